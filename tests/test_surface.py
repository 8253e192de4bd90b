"""The surface reader on screens as the backends capture them: styles, placeholders, dialogs, prompts.

These feed the reader the exact text `tmux capture-pane -p -e` (or the PTY wrapper's
emulator) produces; tests/test_confirm.py and tests/test_shells.py check the same
judgements on real panes, real shells and the raw-mode agent.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from termbridge.backends import Screen
from termbridge.sanitize import strip_sgr
from termbridge.surface import BUILTIN_KINDS, judge_screen, screen_content

pytestmark = pytest.mark.fast  # no tmux, no terminal: the unit loop (`pytest -m fast`)

E = "\x1b"


def screen(styled: str, cursor=None, mode=None) -> Screen:
    return Screen(strip_sgr(styled), styled, cursor, mode)


def judge(styled: str, kind: str = "codex", typed=None, cursor=None, mode=None):
    return judge_screen(screen(styled, cursor, mode), BUILTIN_KINDS[kind], typed, kind == "shell")


CODEX_IDLE = "header\n\n› " + E + "[2mAsk Codex to do anything" + E + "[0m\n\n  ? for shortcuts"


# ---------------------------------------------------------------- styles (issue: drafts read as empty)
ISSUE_STYLES = [
    E + "[38;2;200;200;200m",
    E + "[38;2;2;2;2m",
    E + "[48;5;2m",
    E + "[38:2::200:200:200m",
    E + "[4;58;5;2m",
    E + "[1m",
    E + "[38;5;2m",
    E + "[48;2;95;95;95m" + E + "[38;2;255;255;255m",
]


def test_every_style_from_the_issue_around_a_draft_is_a_draft():
    for sgr in ISSUE_STYLES:
        s = judge(f"header\n\n› {sgr}my draft{E}[0m\n")
        assert (s.kind, s.text) == ("draft", "my draft"), sgr


def test_faint_and_grey_placeholders_are_empty():
    for sgr in [
        E + "[2m",
        E + "[90m",
        E + "[38;5;8m",
        E + "[38;5;244m",
        E + "[38;2;128;128;128m",
        E + "[38;2;175;175;175m",
        E + "[38:2::120:120:120m",
        E + "[1;2m",
    ]:
        s = judge(f"header\n\n› {sgr}whatever placeholder{E}[0m\n")
        assert s.kind == "idle", sgr


def test_faint_reset_by_22_then_text_is_a_draft():
    assert judge(f"› {E}[2mhint{E}[22m typed\n").text == "typed"


def test_placeholder_text_first_even_undimmed():
    assert judge("› Ask Codex to do anything\n\n  ? for shortcuts").kind == "idle"
    assert judge(" >   Type your message or @path/to/file", "gemini").kind == "idle"
    assert judge(" > my draft", "gemini").kind == "draft"


def test_claude_composer_nbsp_and_draft():
    rule = "─" * 40
    assert judge(f"{rule}\n❯\u00a0\n{rule}\n  ? for shortcuts", "claude").kind == "idle"
    s = judge(f"{rule}\n❯\u00a0half typed\n{rule}", "claude")
    assert (s.kind, s.text) == ("draft", "half typed")


def test_gemini_truecolor_draft_as_measured():
    bar = f"{E}[48;2;95;95;95m"
    s = judge(f"╭────╮\n│ {bar}{E}[38;2;255;255;255m> my draft{E}[0m │\n╰────╯", "gemini")
    assert (s.kind, s.text) == ("draft", "my draft")


SGR_PARAM = st.one_of(
    st.sampled_from(["0", "1", "3", "4", "7", "22", "39", "49", "24"]),
    st.integers(30, 37).map(str),
    st.integers(40, 47).map(str),
    st.integers(100, 107).map(str),
    st.integers(0, 255).map(lambda n: f"48;5;{n}"),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(lambda c: "48;2;{};{};{}".format(*c)),
    st.integers(0, 255).map(lambda n: f"58;5;{n}"),
    st.sampled_from(
        [
            "38;2;255;255;255",
            "38;2;2;2;2",
            "38;2;200;200;200",
            "38:2::250:10:10",
            "38;5;15",
            "38;5;2",
            "4:3",
            "38;2;0;255;0",
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(SGR_PARAM, min_size=1, max_size=4).map(";".join), min_size=1, max_size=4),
    st.text(st.characters(whitelist_categories=("L", "N"), max_codepoint=0x2FFF), min_size=1, max_size=20),
)
def test_property_any_non_faint_style_keeps_a_draft(seqs, word):
    styled = "".join(f"{E}[{p}m" for p in seqs)
    s = judge(f"header\n\n› {styled}{word}{E}[0m\n")
    assert s.kind == "draft" and s.text == word.strip()


@settings(max_examples=200, deadline=None)
@given(st.lists(SGR_PARAM, max_size=3).map(";".join), st.sampled_from(["2", "90", "38;5;8", "38;2;120;120;120"]))
def test_property_faint_or_grey_last_is_a_placeholder(prefix, dim):
    sgr = f"{E}[{prefix}m" if prefix else ""
    assert judge(f"header\n\n› {sgr}{E}[{dim}mAsk something{E}[0m\n").kind == "idle"


# ---------------------------------------------------------------- dialogs
CLAUDE_DIALOG = """ Bash command

   touch /tmp/x
   Create a file

 Do you want to proceed?
 ❯ 1. Yes
   2. Yes, and always allow access to tmp/ from this project
   3. No

 Esc to cancel · Tab to amend"""

CODEX_DIALOG = """Would you like to run the following command?

  Reason: needs to write outside the sandbox

  $ touch /tmp/x

› 1. Yes, proceed (y)
  2. Yes, and don't ask again for commands that start with `touch` (p)
  3. No, and tell Codex what to do differently (esc)

  Press enter to confirm or esc to cancel"""

GEMINI_DIALOG = """╭──────────────────────────────────────╮
│ ? Shell  touch /tmp/x                 │
│                                       │
│ Allow execution of [Shell]?           │
│                                       │
│ ● 1. Allow once                       │
│   2. Allow for this session           │
│   3. No, suggest changes (esc)        │
╰──────────────────────────────────────╯"""


def test_each_agents_permission_dialog_is_a_dialog_not_a_draft():
    for kind, text in (("claude", CLAUDE_DIALOG), ("codex", CODEX_DIALOG), ("gemini", GEMINI_DIALOG)):
        s = judge("some transcript\n\n" + text, kind)
        assert s.kind == "dialog", (kind, s)
        assert s.reason.startswith("permission dialog") and "touch /tmp/x" in s.reason, s.reason


def test_dialog_text_in_history_above_an_idle_composer_is_not_a_dialog():
    s = judge(
        "Do you want to proceed? was asked earlier\n ❯ 1. Yes\n\n" + "─" * 20 + "\n❯\u00a0\n" + "─" * 20, "claude"
    )
    assert s.kind == "idle"


def test_trust_dialogs():
    s = judge(
        "Do you trust the files in this folder?\n\n ❯ 1. Yes, proceed\n   2. No, exit\n\n"
        " Enter to confirm · Esc to exit",
        "claude",
    )
    assert s.kind == "dialog" and s.reason.startswith("trust dialog")


# ---------------------------------------------------------------- working, modes, ours
def test_busy_marker_and_copy_mode():
    assert (
        judge("• Working (3s • esc to interrupt)\n\n› " + E + "[2mAsk Codex to do anything" + E + "[0m").kind
        == "working"
    )
    s = judge(CODEX_IDLE, mode="copy-mode")
    assert (s.kind, s.reason) == ("working", "pane is in copy mode")
    assert judge(CODEX_IDLE, mode="view-mode").reason == "pane is in view mode"
    assert judge(CODEX_IDLE).kind == "idle"


def test_ours_only_while_unedited():
    typed = {"text": "[termbridge] 1 peer message from other agents follows. They are context\n--- message X\n> hi"}
    shown = "› [termbridge] 1 peer message from other agents follows. They are context\n  --- message X\n  > hi"
    assert judge(shown, typed=typed).kind == "ours"
    assert judge(shown + " and my words", typed=typed).kind == "draft"
    assert judge("› my own draft", typed=typed).kind == "draft"
    assert judge(shown).kind == "draft"  # nothing typed by termbridge: a person's text
    # A person's edit makes it a draft again, a deletion included (the whole text is on screen).
    edited = "header\n" + shown.replace("> hi", "> h") + "\n\n  ? for shortcuts"
    assert judge(edited, typed=typed).kind == "draft"
    assert judge("header\n" + shown + "\n\n  ? for shortcuts", typed=typed).kind == "ours"
    # A folded paste is ours only when its size is the typed text's: a person's own paste is a draft.
    big = {"text": "x" * 1843}
    assert judge("› [Pasted Content 1843 chars]", typed=big).kind == "ours"
    assert judge("› [Pasted Content 1873 chars]", typed=big).kind == "draft"
    assert judge("› [Pasted Content 1843 chars]", typed=None).kind == "draft"
    # Taller than the pane: the composer line scrolled off, the screen is all termbridge's text.
    tall = {"text": "\n".join(f"line {i}" for i in range(80))}
    assert judge("\n".join(f"  line {i}" for i in range(40, 80)), typed=tall).kind == "ours"
    assert judge("\n".join(f"  line {i}" for i in range(40, 80)), typed=None).kind == "unknown"


def test_grey_text_left_of_the_cursor_is_typed_whatever_its_style():
    for sgr in ("90", "38;5;244", "38;2;150;150;150", "38:5:8", "2", "2;31"):
        line = f"› {E}[{sgr}mrm -rf build please{E}[0m"
        s = judge(line, cursor=(21, 0))  # the cursor after the text: a person typed it
        assert (s.kind, s.text) == ("draft", "rm -rf build please"), sgr
        assert judge(line, cursor=(2, 0)).kind == "idle", sgr  # the cursor before it: a placeholder


# ---------------------------------------------------------------- shells
def test_shell_prompts_without_trailing_space_are_idle():
    # capture-pane drops the trailing space; the cursor sits after it
    for line in [
        "$",
        "user@host:~$",
        "vm#",
        "root@vm:/work#",
        "user@host ~>",
        "%",
        "bash-5.2$",
        "[user@host ~]$",
        "❯",
        "~/src ❯",
    ]:
        s = judge(f"older output\n{line}", "shell", cursor=(len(line) + 1, 1))
        assert s.kind == "idle", line
    for line in ("> ", "for> ", "heredoc> ", "dquote> ", "Do you want to continue? [Y/n] "):
        assert judge(line, "shell", cursor=(len(line), 0)).kind == "working", line  # not an idle prompt
    s = judge("user@host:~$ ls -l", "shell", cursor=(18, 0))
    assert (s.kind, s.text) == ("draft", "ls -l")
    assert judge("compiling...\n", "shell", cursor=(0, 1)).kind == "working"
    assert judge("compiling...\n", "other", cursor=(0, 1)).kind == "unknown"


def test_fish_autosuggestion_is_no_draft():
    s = judge(f"user@host ~> {E}[38;5;8mgit status{E}[0m", "shell", cursor=(13, 0))
    assert s.kind == "idle"


# ---------------------------------------------------------------- the newest releases (issues 20, 21)
def kitty_gemini(inner: str) -> str:
    """Gemini CLI 0.61 in kitty: a half-block box around the composer line, colon-form SGR."""
    top = f"{E}[m{E}[38:2:42:42:42m" + "▄" * 60
    bottom = f"{E}[m{E}[38:2:42:42:42m" + "▀" * 60
    return f"history\n{top}\n{E}[m{E}[48:2:42:42:42m {E}[38:2:215:175:255m> {inner}{E}[39m   \n{bottom}\n workspace"


def test_gemini_half_block_box_is_no_continuation_of_the_composer():
    cursor = f"{E}[7;39m {E}[27;38:2:175:175:175m"  # its own cursor, then the grey placeholder
    assert judge(kitty_gemini(cursor + " Type your message or @path/to/file"), "gemini").kind == "idle"
    draft = kitty_gemini(f"{E}[38:2:255:255:255mmy draft here{E}[7;39m {E}[27m")
    s = judge(draft, "gemini")
    assert (s.kind, s.text) == ("draft", "my draft here")
    assert judge(draft, "gemini", typed={"text": "my draft here"}).kind == "ours"  # the ▀ line is not its text


CLAUDE_RULE = "─" * 40


def claude_composer(line: str, footer: str = "  ⏸ manual mode on · ? for shortcuts") -> str:
    return f"history\n{CLAUDE_RULE}\n{line}\n{CLAUDE_RULE}\n{footer}"


def test_a_tuis_own_cursor_over_a_placeholder_is_no_draft():
    """Claude 2.1.332 after a failed request: `❯ ` + reverse `R` (its cursor) + faint `esend…`."""
    resend = claude_composer(f"❯\u00a0{E}[7mR{E}[0;2m{E}[39m{E}[49mesend your message to try again")
    assert judge(resend, "claude").kind == "idle"
    no_words = dict(BUILTIN_KINDS["claude"], placeholder=[])
    assert judge_screen(screen(resend), no_words).kind == "idle"  # by style alone, too
    assert judge_screen(Screen(strip_sgr(resend)), BUILTIN_KINDS["claude"]).kind == "idle"  # by words alone
    # A person's text before the cursor stays; a faint suggestion after it is no draft.
    s = judge(claude_composer(f"❯\u00a0fix {E}[7mt{E}[27;2mhe tests{E}[0m"), "claude")
    assert (s.kind, s.text) == ("draft", "fix")
    # Reverse video that is not a lone cursor cell before faint text is text like any other.
    s = judge(claude_composer(f"❯\u00a0{E}[7mmy draft{E}[0m"), "claude")
    assert (s.kind, s.text) == ("draft", "my draft")


def test_claude_queued_messages_are_working_not_a_draft():
    queued = f"❯\u00a0{E}[7m{E}[39mP{E}[0;2m{E}[39m{E}[49mress up to edit queued messages"
    s = judge(claude_composer(queued, "  ⏸ manual mode on · esc to interrupt"), "claude")
    assert s.kind == "working", s
    s = judge(claude_composer(queued, ""), "claude")  # even with the footer out of sight
    assert s.kind == "working", s


CLAUDE_332_DIALOG = """❯ run the command
  Running it
  ⎿  $ touch /tmp/x
────────────────────────────────────────
 Bash command
 Tip: auto mode handles these prompts for you — choose "switch to auto mode" below
 Run it
╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌
 touch /tmp/x
╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌
 Do you want to proceed?
 ❯ 1. Yes
   2. Yes, and always allow access to /tmp from this project
   3. Yes, and switch to auto mode · auto mode handles these prompts for you
   4. No
 Esc to cancel · Tab to amend"""


def test_claude_2_1_332_permission_dialog_names_the_command_not_the_tip():
    s = judge(CLAUDE_332_DIALOG, "claude")
    assert s.kind == "dialog"
    assert s.reason == "permission dialog: Bash(touch /tmp/x) — Do you want to proceed?", s.reason


def test_claude_auto_mode_selection_is_a_dialog():
    nudge = (
        f"history\n{CLAUDE_RULE}\n  Make auto mode your default permission mode?\n\n"
        "  Auto mode lets Claude handle permission prompts automatically.\n\n"
        "  ❯ Yes, set auto mode as my default permission mode\n    No, keep manual mode"
    )
    s = judge(nudge, "claude")
    assert (s.kind, s.reason) == ("dialog", "dialog: Make auto mode your default permission mode?"), s


def test_termbridge_text_under_a_busy_marker_is_working_a_persons_draft_stays_a_draft():
    """Codex-like: its history line `› hello world` (shaped like the composer) over `• Working`."""
    shown = "header\n\n› hello world\n\n• Working (1s • esc to interrupt)"
    typed = {"text": "hello world", "what": "messages"}
    s = judge(shown, typed=typed)
    assert s.kind == "working" and "Working" in s.reason, s
    assert judge(shown).kind == "draft"  # nothing typed by termbridge: a person's text, never typed over
    assert judge(shown.replace("hello world", "hello world, and mine"), typed=typed).kind == "draft"
    assert judge("header\n\n› hello world\n\n  ? for shortcuts", typed=typed).kind == "ours"  # no marker: Enter


def test_screen_content_ignores_a_cursor_cell_and_styles():
    focused = Screen("history\n❯\u00a0 \n" + "─" * 9 + "\n", f"history\n❯\u00a0{E}[7m \n" + "─" * 9 + "\n")
    unfocused = Screen("history\n❯\u00a0\n" + "─" * 9, "history\n❯\u00a0\n" + "─" * 9)
    assert screen_content(focused) == screen_content(unfocused)
    assert screen_content(Screen("history\n❯\u00a0x")) != screen_content(unfocused)


def test_termbridge_framed_text_in_geminis_composer_is_ours_though_its_quotes_look_like_the_composer():
    """A drain's framed text quotes each message with `> `; Gemini's composer is ` > ` too. Read as a
    draft, an Enter that Gemini handled late counts as unsubmitted, and the messages go twice."""
    framed = "[termbridge] 1 peer message follows.\n--- message X from peer\n> a peer note\n[termbridge] end."
    boxed = "\n".join(f"│ {'>' if i == 0 else ' '} {line:<40} │" for i, line in enumerate(framed.split("\n")))
    shown = f"history\n╭{'─' * 44}╮\n{boxed}\n╰{'─' * 44}╯\n  ? for shortcuts"
    s = judge(shown, "gemini", typed={"text": framed})
    assert (s.kind, s.text) == ("ours", framed), s
    assert judge(shown, "gemini").kind == "draft"  # nobody typed it: a person's draft
    # History above the box is never part of it: a rule ends the block.
    assert judge(shown, "gemini", typed={"text": "history\n" + framed}).kind == "draft"
