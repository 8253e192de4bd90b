"""JSON with comments, edited in place: the person's comments, layout and spelling are kept
byte for byte outside the few spans an edit touches (as tomlkit does for Codex's TOML).

`parse` reads JSON, or JSONC (`//` and `/* */` comments, trailing commas) when asked, into a
tree of spans over the text; `remove_item`, `append_item` and `replace_value` each make one
small edit and return the new text (parse again before the next one). An item appended on its
own lines and then removed leaves the text exactly as it was. Only `hooks install|uninstall`
and `doctor` import this module (never the send or hook paths).

No PyPI library did this well enough: json-five edits a JSON5 model whose new nodes need
hand-made whitespace (and brings sly and regex), json5kit has had no release since 2023, and
jsonc-edit runs Microsoft's jsonc-parser through Node and npm at run time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from termbridge.errors import JsoncError as JsoncError

MAX_DEPTH = 256  # settings files nest a few levels; this bounds the recursion

_TOKEN = re.compile(
    r"""(?P<ws>[ \t\n\r]+)
      | (?P<line>//[^\n]*)
      | (?P<block>/\*.*?\*/)
      | (?P<string>"(?:[^"\\\x00-\x1f]|\\.)*")
      | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
      | (?P<word>true|false|null)
      | (?P<punct>[{}\[\]:,])""",
    re.VERBOSE | re.DOTALL,
)
_WORDS = {"true": True, "false": False, "null": None}
_SAME_LINE_TRIVIA = re.compile(r"(?:[ \t\r]+|//[^\n]*|/\*[^\n]*?\*/)*")


def position(text: str, pos: int) -> str:
    """POS in TEXT as a person finds it: line and column, counted from 1."""
    line = text.count("\n", 0, pos) + 1
    return f"line {line}, column {pos - (text.rfind(chr(10), 0, pos) + 1) + 1}"


@dataclass
class Node:
    """A value's span [start, end) in the text; containers keep their items' spans and commas."""

    start: int
    end: int
    value: Any = None
    items: list[Node] | None = None  # an array's elements
    keys: list[str] | None = None  # an object's member keys, in order (duplicates kept)
    key_starts: list[int] = field(default_factory=list)  # where each member's key begins
    commas: list[int | None] = field(default_factory=list)  # the comma after item k, if any

    @property
    def is_object(self) -> bool:
        return self.keys is not None

    @property
    def is_array(self) -> bool:
        return self.keys is None and self.items is not None

    def member(self, key: str) -> Node | None:
        """The value of KEY (the last one, as JSON.parse reads duplicates); None when absent."""
        if self.keys is None or self.items is None or key not in self.keys:
            return None
        return self.items[len(self.keys) - 1 - self.keys[::-1].index(key)]

    def index(self, key: str) -> int:
        """The position of KEY's last member."""
        assert self.keys is not None
        return len(self.keys) - 1 - self.keys[::-1].index(key)

    def span(self, k: int) -> tuple[int, int]:
        """Item K's span: a member from its key to the end of its value."""
        assert self.items is not None
        return (self.key_starts[k] if self.keys is not None else self.items[k].start), self.items[k].end


@dataclass
class Document:
    text: str
    root: Node
    comments: int  # how many comments the text holds
    trailing_commas: list[int]  # where each trailing comma is

    @property
    def value(self) -> Any:
        return self.root.value


def parse(text: str, comments: bool = False, trailing_commas: bool = False) -> Document:
    """TEXT as a Document; JsoncError when it is not JSON (with COMMENTS / TRAILING_COMMAS: JSONC)."""
    tokens: list[tuple[str, int, int]] = []
    n_comments = 0
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            if ch == '"':
                why = "an unterminated string (or a control character in one)"
            elif text.startswith("/*", pos):
                why = "an unterminated /* comment"
            else:
                why = f"unexpected {ch!r}"
            raise JsoncError(f"{why} at {position(text, pos)}")
        kind = m.lastgroup or ""
        if kind in ("line", "block"):
            if not comments:
                raise JsoncError(f"a comment at {position(text, pos)} (this file must be plain JSON)")
            n_comments += 1
        elif kind != "ws":
            tokens.append((kind, m.start(), m.end()))
        pos = m.end()
    parser = _Parser(text, tokens, trailing_commas)
    root = parser.value(0)
    if parser.i < len(tokens):
        raise JsoncError(f"unexpected text after the end at {position(text, tokens[parser.i][1])}")
    return Document(text, root, n_comments, parser.trailing)


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, int, int]], trailing_ok: bool):
        self.text, self.tokens, self.trailing_ok = text, tokens, trailing_ok
        self.i = 0
        self.trailing: list[int] = []

    def _next(self, expected: str) -> tuple[str, int, int]:
        if self.i >= len(self.tokens):
            raise JsoncError(f"the text ends where {expected} was expected")
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def _peek(self) -> str:
        if self.i >= len(self.tokens):
            return ""
        kind, s, e = self.tokens[self.i]
        return self.text[s:e] if kind == "punct" else kind

    def _fail(self, tok: tuple[str, int, int], expected: str) -> JsoncError:
        return JsoncError(f"expected {expected} at {position(self.text, tok[1])}, found {self.text[tok[1] : tok[2]]!r}")

    def value(self, depth: int) -> Node:
        tok = self._next("a value")
        kind, s, e = tok
        raw = self.text[s:e]
        if kind == "string" or kind == "number":
            try:
                return Node(s, e, json.loads(raw))
            except ValueError:
                raise JsoncError(f"a bad escape in the string at {position(self.text, s)}") from None
        if kind == "word":
            return Node(s, e, _WORDS[raw])
        if raw not in ("{", "["):
            raise self._fail(tok, "a value")
        if depth >= MAX_DEPTH:
            raise JsoncError(f"nested too deeply (more than {MAX_DEPTH} levels) at {position(self.text, s)}")
        obj = raw == "{"
        close = "}" if obj else "]"
        node = Node(s, s, {} if obj else [], items=[], keys=[] if obj else None)
        assert node.items is not None
        while True:
            if self._peek() == close:
                e = self._next(close)[2]
                break
            if obj:
                ktok = self._next("a key")
                if ktok[0] != "string":
                    raise self._fail(ktok, 'a "key" or }')
                key = self.text[ktok[1] : ktok[2]]
                try:
                    key = json.loads(key)
                except ValueError:
                    raise JsoncError(f"a bad escape in the key at {position(self.text, ktok[1])}") from None
                colon = self._next(":")
                if self.text[colon[1] : colon[2]] != ":":
                    raise self._fail(colon, ":")
                assert node.keys is not None
                node.keys.append(key)
                node.key_starts.append(ktok[1])
            child = self.value(depth + 1)
            node.items.append(child)
            if obj:
                node.value[key] = child.value
            else:
                node.value.append(child.value)
            sep = self._next(f", or {close}")
            punct = self.text[sep[1] : sep[2]]
            if punct == close:
                node.commas.append(None)
                e = sep[2]
                break
            if punct != ",":
                raise self._fail(sep, f", or {close}")
            node.commas.append(sep[1])
            if self._peek() == close:
                if not self.trailing_ok:
                    raise JsoncError(f"a trailing comma at {position(self.text, sep[1])}")
                self.trailing.append(sep[1])
        node.end = e
        return node


# ---------------------------------------------------------------- layout
def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _indent_of(text: str, pos: int) -> str:
    """The spaces and tabs that begin POS's line."""
    start = _line_start(text, pos)
    end = start
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[start:end]


def _starts_line(text: str, pos: int) -> bool:
    return text[_line_start(text, pos) : pos].strip(" \t") == ""


def newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def indent_unit(doc: Document) -> str:
    """The step the text indents by (two spaces, four, a tab…); two spaces when it shows none."""
    todo = [doc.root]
    while todo:
        node = todo.pop(0)
        for k, child in enumerate(node.items or []):
            start = node.span(k)[0]
            outer, inner = _indent_of(doc.text, node.start), _indent_of(doc.text, start)
            if _starts_line(doc.text, start) and inner.startswith(outer) and len(inner) > len(outer):
                return inner[len(outer) :]
            todo.append(child)
    return "  "


def render(value: Any, indent: str, unit: str, nl: str, key: str | None = None) -> str:
    """VALUE as JSON laid out from INDENT (lines after the first indented by it), with KEY: first."""
    body = json.dumps(value, indent=unit, ensure_ascii=False).replace("\n", nl + indent)
    return body if key is None else json.dumps(key, ensure_ascii=False) + ": " + body


def _compact(value: Any, key: str | None) -> str:
    body = json.dumps(value, ensure_ascii=False)
    return body if key is None else json.dumps(key, ensure_ascii=False) + ": " + body


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


# ---------------------------------------------------------------- edits
def _own_lines(text: str, node: Node, k: int) -> tuple[int, int, bool] | None:
    """Item K's whole lines [start, end) when nothing else shares them (its comma may), and
    whether a comma follows it; None when it shares a line with other text."""
    s, e = node.span(k)
    if not _starts_line(text, s):
        return None
    p = e
    while p < len(text) and text[p] in " \t":
        p += 1
    comma = p < len(text) and text[p] == ","
    if comma:
        p += 1
        while p < len(text) and text[p] in " \t":
            p += 1
    if node.commas[k] is not None and not comma:
        return None  # its comma is on a later line: cutting its lines would leave that comma alone
    if text.startswith("\r\n", p):
        return _line_start(text, s), p + 2, comma
    if text.startswith("\n", p):
        return _line_start(text, s), p + 1, comma
    return None


def remove_item(doc: Document, node: Node, k: int) -> str:
    """The text without NODE's item K (a member or an element), its separator and its lines."""
    text = doc.text
    assert node.items is not None
    n = len(node.items)
    s, e = node.span(k)
    own = _own_lines(text, node, k)
    edits: list[tuple[int, int, str]]
    if own is not None:
        start, end, has_comma = own
        edits = [(start, end, "")]
        if k == n - 1 and k > 0 and not has_comma:
            prev_comma = node.commas[k - 1]
            assert prev_comma is not None
            edits.append((prev_comma, prev_comma + 1, ""))  # it would be left trailing
    elif k > 0:
        edits = [(node.items[k - 1].end, e, "")]  # the comma before it, and it
    elif n > 1:
        comma = node.commas[0]
        assert comma is not None
        nxt = node.span(1)[0]
        edits = [(s, nxt if text[comma + 1 : nxt].strip() == "" else comma + 1, "")]
    else:
        comma = node.commas[0]
        edits = [(s, e if comma is None else comma + 1, "")]
    new = _apply(text, edits)
    if n == 1:  # now empty: `{ }` or `{\n}` becomes `{}` (comments inside stay)
        removed = sum(end - start for start, end, _ in edits)
        close = node.end - 1 - removed
        if new[node.start + 1 : close].strip() == "":
            new = new[: node.start + 1] + new[close:]
    return new


def append_item(doc: Document, node: Node, value: Any, key: str | None = None) -> str:
    """The text with VALUE (as member KEY of an object) added after NODE's last item, laid out
    like its neighbours: on lines of its own in a multi-line container (after the last item's
    line, past its comment), inline in a one-line one."""
    text, unit, nl = doc.text, indent_unit(doc), newline_of(doc.text)
    assert node.items is not None
    open_, close = node.start, node.end - 1
    outer = _indent_of(text, open_)
    if not node.items:
        inner = text[open_ + 1 : close]
        item = render(value, outer + unit, unit, nl, key)
        if inner.strip() == "":
            return text[: open_ + 1] + nl + outer + unit + item + nl + outer + text[close:]
        return text[: open_ + 1] + _compact(value, key) + text[open_ + 1 :]  # before the comments in it
    last = len(node.items) - 1
    s_last, e_last = node.span(last)
    if "\n" not in text[open_:close]:
        return text[:e_last] + ", " + _compact(value, key) + text[e_last:]
    indent = _indent_of(text, s_last) if _starts_line(text, s_last) else outer + unit
    item = render(value, indent, unit, nl, key)
    trailing = node.commas[last]
    after = (trailing + 1) if trailing is not None else e_last
    rest = _SAME_LINE_TRIVIA.match(text, after)
    line_end = rest.end() if rest else after
    if line_end < close and text[line_end] == "\n":
        # On the line after the last item's line (past its same-line comment).
        if trailing is not None:
            return text[: line_end + 1] + indent + item + "," + nl + text[line_end + 1 :]
        return _apply(text, [(e_last, e_last, ","), (line_end + 1, line_end + 1, indent + item + nl)])
    # An odd layout (the bracket or a comma on the last item's line, a comment across lines):
    # inline, so that removing it again gives back exactly this text.
    return text[:e_last] + ", " + _compact(value, key) + text[e_last:]


def replace_value(doc: Document, node: Node, value: Any) -> str:
    """The text with NODE replaced by VALUE, laid out from NODE's line."""
    text = doc.text
    item = render(value, _indent_of(text, node.start), indent_unit(doc), newline_of(text))
    return text[: node.start] + item + text[node.end :]


def holds_nothing(doc: Document) -> bool:
    """Whether the text is an empty object and nothing else (no members, no comments)."""
    return doc.root.is_object and not doc.root.items and doc.comments == 0
