"""The surface reader on screens captured from the REAL agents (no agents needed to run this).

tests/screens/*.ansi are exact `tmux capture-pane -p -e` captures of Codex CLI 0.171.0,
Claude Code 2.1.197 and Gemini CLI 0.61.0 in 160x45 panes, with TERM=screen and with
COLORTERM=truecolor TERM=xterm-256color, taken by tests/screens/capture.py: the empty
composer, a draft a person typed one key at a time, a busy turn, a draft typed during a
busy turn, the permission dialog for a shell command, and the folder-trust dialog. Each
has a sidecar .json: the cursor, the agent kind, the expected surface, and the draft text
or the command the dialog is about.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from termbridge.backends import Screen
from termbridge.sanitize import strip_sgr
from termbridge.surface import BUILTIN_KINDS, judge_screen

SCREENS = Path(__file__).parent / "screens"
FIXTURES = sorted(p.stem for p in SCREENS.glob("*.ansi"))


def load(name: str) -> tuple[Screen, dict]:
    styled = (SCREENS / f"{name}.ansi").read_text(encoding="utf-8")
    meta = json.loads((SCREENS / f"{name}.json").read_text(encoding="utf-8"))
    return Screen(text=strip_sgr(styled), styled=styled, cursor=tuple(meta["cursor"])), meta


def test_every_agent_and_terminal_has_its_screens():
    have = {(m["kind"], m["term"], n.split("-", 2)[2]) for n in FIXTURES for m in [load(n)[1]]}
    for kind in ("codex", "claude", "gemini"):
        for term in ("screen", "truecolor"):
            for state in ("idle", "draft", "working", "working-draft", "dialog", "trust"):
                assert (kind, term, state) in have, (kind, term, state)


@pytest.mark.parametrize("name", FIXTURES)
def test_real_screen_is_read_as_captured(name):
    screen, meta = load(name)
    s = judge_screen(screen, BUILTIN_KINDS[meta["kind"]], None, False)
    assert s.kind == meta["expect"], (name, s)
    if meta["expect"] == "draft":
        assert s.text == meta["draft"], (name, s)
    if meta["expect"] == "dialog" and meta.get("about"):
        assert meta["about"] in s.reason, (name, s)
    if meta["expect"] == "dialog":
        assert "dialog" in s.reason, (name, s)


@pytest.mark.parametrize("name", [n for n in FIXTURES if n.endswith("-draft") and "working" not in n])
def test_a_real_draft_is_no_placeholder_even_without_styles(name):
    """The plain text alone (a backend without styles) still holds the draft."""
    screen, meta = load(name)
    s = judge_screen(Screen(text=screen.text, cursor=screen.cursor), BUILTIN_KINDS[meta["kind"]], None, False)
    assert (s.kind, s.text) == ("draft", meta["draft"]), (name, s)


@pytest.mark.parametrize("name", [n for n in FIXTURES if n.endswith("-draft")])
def test_a_real_draft_typed_by_termbridge_is_ours(name):
    screen, meta = load(name)
    typed = {"text": meta["draft"], "target": "t", "ids": [], "what": "test"}
    s = judge_screen(screen, BUILTIN_KINDS[meta["kind"]], typed, False)
    assert s.kind == "ours", (name, s)


@pytest.mark.parametrize("name", [n for n in FIXTURES if n.endswith("-idle") and not n.startswith("gemini")])
def test_a_real_empty_composer_is_idle_by_style_alone(name):
    """Without the placeholder text patterns, Codex's placeholder is still read as empty by its faint
    style (Claude draws none). Gemini's is not: it draws its placeholder in colour 37 (TERM=screen)
    or 38;2;175;175;175 (truecolor), neither faint nor in the grey range, so for Gemini the
    placeholder text is what tells them apart (a new placeholder text would read as a draft:
    delivery waits, nothing is typed over)."""
    screen, meta = load(name)
    spec = dict(BUILTIN_KINDS[meta["kind"]], placeholder=[])
    assert judge_screen(screen, spec, None, False).kind == "idle"
