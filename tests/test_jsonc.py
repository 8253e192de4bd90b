"""jsonc.py: JSON with comments read into spans and edited in place. Properties over random
values laid out with random whitespace, comments and trailing commas: the parse gives the
value back, an appended item is there, and removing it again restores the text byte for byte."""

from __future__ import annotations

import copy
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonc_layout import TRIVIA, layout

from termbridge import jsonc

pytestmark = pytest.mark.fast  # no tmux, no terminal: the unit loop (`pytest -m fast`)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=14,
)
CONTAINERS = st.lists(VALUES, max_size=4) | st.dictionaries(st.text(max_size=4), VALUES, max_size=4)


def containers(node: jsonc.Node, path=()):
    """(path, node) for every object and array in the tree, the root first."""
    if node.items is None:
        return
    yield path, node
    for k, child in enumerate(node.items):
        yield from containers(child, (*path, node.keys[k] if node.keys is not None else k))


def at(value, path):
    for step in path:
        value = value[step]
    return value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=CONTAINERS, data=st.data())
def test_parse_gives_the_value_back(value, data):
    text = data.draw(st.sampled_from(TRIVIA)) + layout(value, data) + data.draw(st.sampled_from(TRIVIA))
    assert jsonc.parse(text, comments=True, trailing_commas=True).value == value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=CONTAINERS, new=VALUES, data=st.data())
def test_append_then_remove_restores_the_text(value, new, data):
    text = layout(value, data) + "\n"
    doc = jsonc.parse(text, comments=True, trailing_commas=True)
    path, node = data.draw(st.sampled_from(list(containers(doc.root))))
    key = None
    if node.is_object:
        key = data.draw(st.text(max_size=4).filter(lambda k: k not in at(value, path)))
    added = jsonc.append_item(doc, node, new, key=key)
    expected = copy.deepcopy(value)
    target = at(expected, path)
    if key is None:
        target.append(new)
    else:
        target[key] = new
    doc2 = jsonc.parse(added, comments=True, trailing_commas=True)
    assert doc2.value == expected
    node2 = dict(containers(doc2.root))[path]
    assert jsonc.remove_item(doc2, node2, len(node2.items) - 1) == text or not node.items
    if not node.items:  # an empty container comes back as `{}` / `[]`
        back = jsonc.parse(jsonc.remove_item(doc2, node2, 0), comments=True, trailing_commas=True)
        assert back.value == value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=CONTAINERS, data=st.data())
def test_remove_any_item_leaves_valid_text_without_it(value, data):
    text = layout(value, data)
    doc = jsonc.parse(text, comments=True, trailing_commas=True)
    candidates = [(p, n) for p, n in containers(doc.root) if n.items]
    if not candidates:
        return
    path, node = data.draw(st.sampled_from(candidates))
    k = data.draw(st.integers(0, len(node.items) - 1))
    expected = copy.deepcopy(value)
    target = at(expected, path)
    if node.is_object:
        del target[node.keys[k]]
    else:
        del target[k]
    out = jsonc.remove_item(doc, node, k)
    assert jsonc.parse(out, comments=True, trailing_commas=True).value == expected
    # Trailing commas are never added where the text had none.
    assert len(jsonc.parse(out, True, True).trailing_commas) <= len(doc.trailing_commas) + 0


def test_plain_json_mode_refuses_comments_and_trailing_commas():
    with pytest.raises(jsonc.JsoncError, match="a comment at line 2, column 3"):
        jsonc.parse('{\n  // no\n  "a": 1}')
    with pytest.raises(jsonc.JsoncError, match="a trailing comma at line 1, column 8"):
        jsonc.parse('{"a": 1,}')
    assert jsonc.parse('{"a": 1,}', trailing_commas=True).trailing_commas == [7]


@pytest.mark.parametrize(
    "bad,why",
    [
        ('{"a": 1', "the text ends"),
        ('{"a": 1 /* open', "unterminated /* comment"),
        ('{"a": "x\ny"}', "unterminated string"),
        ('{"a": "\\q"}', "bad escape"),
        ('{"a": NaN}', "unexpected 'N'"),
        ('{"a": 01}', "expected , or }"),
        ('{"a": 1}}', "after the end"),
        ("{a: 1}", "unexpected 'a'"),
        ("[" * 300 + "]" * 300, "nested too deeply"),
        ("", "the text ends"),
    ],
)
def test_what_is_refused_and_why(bad, why):
    with pytest.raises(jsonc.JsoncError, match=re.escape(why)):
        jsonc.parse(bad, comments=True, trailing_commas=True)


def test_layout_is_followed():
    """An item goes on its own lines in the container's indentation; a one-line container stays one line."""
    tabbed = '{\n\t"a": {\n\t\t"b": 1 // why\n\t}\n}'
    doc = jsonc.parse(tabbed, comments=True)
    out = jsonc.append_item(doc, doc.root.member("a"), [1], key="c")
    assert out == '{\n\t"a": {\n\t\t"b": 1, // why\n\t\t"c": [\n\t\t\t1\n\t\t]\n\t}\n}'
    doc = jsonc.parse('{"a": [1, 2]}')
    assert jsonc.append_item(doc, doc.root.member("a"), {"x": 1}) == '{"a": [1, 2, {"x": 1}]}'
    doc = jsonc.parse("{}")
    assert jsonc.append_item(doc, doc.root, True, key="k") == '{\n  "k": true\n}'
