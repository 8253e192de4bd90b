"""The reference in docs/ never drifts from the code: every command and option of the CLI is in
docs/commands.md (under its own heading), every config key in docs/config.md, and every relative
link in the README and docs/ leads to a file and a heading that exist."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from termbridge.cli import cli
from termbridge.config import DEFAULTS

pytestmark = pytest.mark.fast  # no tmux, no terminal: the unit loop (`pytest -m fast`)

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
COMMANDS_MD = DOCS / "commands.md"
CONFIG_MD = DOCS / "config.md"


def _walk(group: click.Group, path: tuple[str, ...] = ()):
    """(path, command) for every command under GROUP, hidden ones included, groups too."""
    for name, cmd in sorted(group.commands.items()):
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from _walk(cmd, (*path, name))


COMMANDS = list(_walk(cli))


def _sections(text: str) -> dict[str, str]:
    """`termbridge X Y` -> the text under the heading that names it (up to the next heading of the
    same or a higher level; a group's section holds its subcommands' sections)."""
    heads = [(m.start(), len(m.group(1)), m.group(2)) for m in re.finditer(r"^(#{2,6}) (.+)$", text, re.M)]
    out: dict[str, str] = {}
    for i, (start, level, title) in enumerate(heads):
        m = re.fullmatch(r"`(termbridge(?: [a-z-]+)*)`", title.strip())
        if not m:
            continue
        end = next((s for s, lv, _ in heads[i + 1 :] if lv <= level), len(text))
        out[m.group(1)] = text[start:end]
    return out


SECTIONS = _sections(COMMANDS_MD.read_text(encoding="utf-8"))


def _mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def _documented_names(param: click.Parameter) -> list[str]:
    """What the reference must show for PARAM: an option's spellings, an argument's name, a choice's values."""
    names: list[str] = []
    if isinstance(param, click.Option):
        names += [*param.opts, *param.secondary_opts]
    elif isinstance(param.type, click.Choice):
        pass  # an argument that is a choice is shown by its values
    elif param.metavar and "--" in param.metavar:
        names += re.findall(r"--[a-z-]+", param.metavar)  # the hooks' --agent / --session
    else:
        names.append((param.metavar or (param.name or "").upper()).strip("[]."))
    if isinstance(param.type, click.Choice):
        names += [str(c) for c in param.type.choices]
    return [n for n in names if n]


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in COMMANDS])
def test_commands_are_documented(path):
    assert f"termbridge {path}" in SECTIONS, f"docs/commands.md has no heading `termbridge {path}`"


@pytest.mark.parametrize(
    "path,name",
    [(" ".join(p), n) for p, cmd in COMMANDS for param in cmd.params for n in _documented_names(param)],
)
def test_options_are_documented(path, name):
    assert _mentions(SECTIONS.get(f"termbridge {path}", ""), name), (
        f"`termbridge {path}`: {name} is not in its section of docs/commands.md"
    )


def test_global_options_are_documented():
    text = SECTIONS.get("termbridge", "") or COMMANDS_MD.read_text(encoding="utf-8")
    for param in cli.params:
        for name in _documented_names(param):
            assert _mentions(text, name), f"the global option {name} is not in docs/commands.md"
    assert _mentions(text, "--help")


def test_no_documented_command_is_gone():
    real = {f"termbridge {' '.join(p)}" for p, _ in COMMANDS}
    assert set(SECTIONS) - {"termbridge"} <= real, "docs/commands.md documents a command that does not exist"


def _config_rows() -> list[str]:
    return re.findall(r"^\| `([a-z_]+)` \|", CONFIG_MD.read_text(encoding="utf-8"), re.M)


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_config_keys_are_documented(key):
    assert key in _config_rows(), f"docs/config.md has no table row for the config key {key!r}"


def test_config_defaults_are_documented_as_they_are():
    text = CONFIG_MD.read_text(encoding="utf-8")
    for key, value in DEFAULTS.items():
        row = re.search(rf"^\| `{key}` \| (.+?) \|", text, re.M)
        assert row, key
        shown = {None: "`null`", "": "``"}.get(value, f"`{value}`") if not isinstance(value, dict) else "`{}`"
        if key == "nudge_text":
            shown = value
        assert shown in row.group(1), f"docs/config.md gives {key} a default other than {value!r}"


def test_no_documented_config_key_is_gone():
    rows = {r for r in _config_rows() if r not in ("busy", "composer", "placeholder", "ready", "dialog", "pasted")}
    assert rows <= set(DEFAULTS), f"docs/config.md documents keys that do not exist: {rows - set(DEFAULTS)}"


# ---------------------------------------------------------------- links
def _slug(title: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    title = re.sub(r"[`*_]", "", title.strip().lower().replace("_", "-"))
    title = re.sub(r"[^\w\- ]", "", title)
    return title.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


MARKDOWN = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_somewhere(page):
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, f"{page.name}: links to nowhere: {broken}"


def test_docs_index_lists_every_page():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in DOCS.glob("*.md") if p.name != "README.md" and f"({p.name})" not in index]
    assert not missing, f"docs/README.md does not list {missing}"


def test_the_code_points_into_the_repository_not_outside_it():
    """Comments and docstrings name docs/ pages, never files that are not in the repository."""
    outside = re.compile(r"REAL_AGENTS\.md|CONTRACT\.md|DESIGN\.md|STYLE\.md|/work/shared")
    hits = [
        f"{p.relative_to(ROOT)}:{n}"
        for top in ("termbridge", "tests", "tools", "bench")
        for p in sorted((ROOT / top).rglob("*.py"))
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line) and p.name != "test_docs.py"
    ]
    assert not hits, f"references to files outside the repository: {hits}"
