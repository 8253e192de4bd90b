"""The surface reader on screens captured from the REAL agents (no agents needed to run this).

tests/screens/*.ansi are exact captures, taken by tests/screens/capture.py, each with a sidecar
.json: the cursor (null where the terminal gives none: kitty), the agent kind and release, the
terminal, the state, the expected surface, and the draft text or the command a dialog is about
(and, where termbridge's own text is on screen, "typed": what termbridge typed).

- `tmux capture-pane -p -e` of Codex CLI 0.171.0, Claude Code 2.1.197 and Gemini CLI 0.61.0 in
  160x45 panes, with TERM=screen and with COLORTERM=truecolor TERM=xterm-256color: the empty
  composer, a draft typed one key at a time, a busy turn, a draft typed during a busy turn,
  the permission dialog for a shell command, and the folder-trust dialog;
- Claude Code 2.1.332 (tmux, truecolor, manual permission mode): the empty composer, the
  placeholder after a failed request, messages queued during a turn, the four-option
  permission dialog with its tip line, the one-time "Make auto mode your default" selection;
- Gemini CLI 0.61.0 and Claude Code 2.1.332 in a real kitty 160x45 (`get-text --ansi`, colon-form
  SGR, half-block composer box): idle, a draft, a busy turn, the permission dialog; the same
  idle composer focused and unfocused (the agent's own cursor cell comes and goes);
- Codex 0.171.0 with termbridge's own text on screen during a turn (its history line right after
  a submission; its text in the composer while it works): `working`, never `ours`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from termbridge.backends import Screen
from termbridge.sanitize import strip_sgr
from termbridge.surface import BUILTIN_KINDS, judge_screen, screen_content

SCREENS = Path(__file__).parent / "screens"
FIXTURES = sorted(p.stem for p in SCREENS.glob("*.ansi"))


def load(name: str) -> tuple[Screen, dict]:
    styled = (SCREENS / f"{name}.ansi").read_text(encoding="utf-8")
    meta = json.loads((SCREENS / f"{name}.json").read_text(encoding="utf-8"))
    cursor = tuple(meta["cursor"]) if meta.get("cursor") else None
    return Screen(text=strip_sgr(styled), styled=styled, cursor=cursor), meta


def typed_of(meta: dict) -> dict | None:
    return {"text": meta["typed"], "target": "t", "ids": [], "what": "messages"} if "typed" in meta else None


def have(kind: str, term: str, agent: str | None = None) -> set[str]:
    """The states captured for KIND in TERM (of release AGENT when given)."""
    metas = [load(n)[1] for n in FIXTURES]
    return {m["state"] for m in metas if m["kind"] == kind and m["term"] == term and agent in (None, m["agent"])}


def test_every_agent_and_terminal_has_its_screens():
    for kind in ("codex", "claude", "gemini"):
        for term in ("screen", "truecolor"):
            missing = {"idle", "draft", "working", "working-draft", "dialog", "trust"} - have(kind, term)
            assert not missing, (kind, term, missing)
    newest = "claude 2.1.332"
    assert {"idle", "placeholder", "queued", "dialog", "auto-nudge", "trust"} <= have("claude", "truecolor", newest)
    assert {"idle", "idle-unfocused", "draft", "working", "dialog"} <= have("gemini", "kitty")
    assert {"idle", "idle-unfocused"} <= have("claude", "kitty", newest)
    assert {"ours-history-working", "ours-working"} <= have("codex", "truecolor")


@pytest.mark.parametrize("name", FIXTURES)
def test_real_screen_is_read_as_captured(name):
    screen, meta = load(name)
    s = judge_screen(screen, BUILTIN_KINDS[meta["kind"]], typed_of(meta), False)
    assert s.kind == meta["expect"], (name, s)
    if meta["expect"] == "draft":
        assert s.text == meta["draft"], (name, s)
    if meta["expect"] == "dialog" and meta.get("about"):
        assert meta["about"] in s.reason, (name, s)
        assert "Tip:" not in s.reason, (name, s)
    if meta["expect"] == "dialog":
        assert "dialog" in s.reason, (name, s)
    if meta["state"] == "trust":
        assert s.reason.startswith("trust dialog"), (name, s)


@pytest.mark.parametrize("name", FIXTURES)
def test_a_real_screen_reads_the_same_without_styles(name):
    """The plain text alone (a backend without styles) gives the same verdict: drafts keep their
    text, placeholders are known by their words."""
    screen, meta = load(name)
    s = judge_screen(Screen(text=screen.text, cursor=screen.cursor), BUILTIN_KINDS[meta["kind"]], typed_of(meta), False)
    assert s.kind == meta["expect"], (name, s)
    if meta["expect"] == "draft":
        assert s.text == meta["draft"], (name, s)


@pytest.mark.parametrize("name", [n for n in FIXTURES if load(n)[1]["expect"] == "draft"])
def test_a_real_draft_typed_by_termbridge_is_ours_unless_the_agent_works(name):
    """The same text, typed by termbridge: `ours` (Enter may be pressed over it) -- but `working`
    where the agent shows a busy marker (Codex and Gemini draw theirs beside a draft; Claude hides
    its own while the composer holds text)."""
    screen, meta = load(name)
    typed = {"text": meta["draft"], "target": "t", "ids": [], "what": "test"}
    s = judge_screen(screen, BUILTIN_KINDS[meta["kind"]], typed, False)
    assert s.kind == meta.get("if_typed", "ours"), (name, s)


@pytest.mark.parametrize("name", [n for n in FIXTURES if load(n)[1]["expect"] == "idle"])
def test_a_real_empty_composer_is_idle_by_style_alone(name):
    """Without the placeholder text patterns, Codex's placeholder is still read as empty by its faint
    style, and Claude 2.1.332's too (its cursor, a reverse-video first letter, takes the faint style
    of the letters after it). Gemini's is not: it draws its placeholder in colour 37 (TERM=screen)
    or 38;2;175;175;175 (truecolor), neither faint nor in the grey range, so for Gemini the
    placeholder text is what tells them apart (a new placeholder text would read as a draft:
    delivery waits, nothing is typed over)."""
    screen, meta = load(name)
    if meta["kind"] == "gemini":
        pytest.skip("Gemini's placeholder is known by its words only")
    spec = dict(BUILTIN_KINDS[meta["kind"]], placeholder=[])
    assert judge_screen(screen, spec, None, False).kind == "idle"


@pytest.mark.parametrize("name", [n for n in FIXTURES if "unfocused" in n])
def test_focus_moves_no_content(name):
    """The same idle composer focused and unfocused: the agent's own cursor cell comes and goes
    (kitty keeps it as a trailing space in the plain text), the content does not."""
    unfocused, _ = load(name)
    focused, _ = load(name.replace("-unfocused", ""))
    assert unfocused.styled != focused.styled  # the cursor cell
    assert screen_content(unfocused) == screen_content(focused)
