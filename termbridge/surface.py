"""What the target shows: one reader for every backend, returning a surface and a reason.

Surfaces (docs/surfaces.md):
  idle     an empty composer, or an idle shell prompt
  draft    a person's text in the composer, in any colour or style
  working  the agent is in a turn (busy marker, output, a hook's mark, a tmux pane mode)
  dialog   the agent waits for its human: permission, approval, trust, question, selection
  ours     text termbridge typed and that was not submitted
  unknown  nothing recognisable (counts as busy; never typed into)

Judged in this order, first wins: a tmux pane mode; a dialog below the last composer;
the composer's text (a draft unless it is the kind's placeholder or drawn faint/grey;
termbridge's own text is `ours`, but `working` while a busy marker shows); a busy marker
or PTY signal; an empty composer or prompt (idle, confirmed by a second sample when asked,
and over a fresh busy mark from a hook only once the screen has read idle for a second:
see idle.py); else unknown. Per-kind patterns are data (BUILTIN_KINDS, overlaid by the
config's `kinds`), not code branches.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from termbridge.backends import Screen, Target

if TYPE_CHECKING:
    from termbridge.paths import StrPath

# What a target shows (docs/surfaces.md).
SurfaceKind = Literal["idle", "draft", "working", "dialog", "ours", "unknown"]

# Checked against Codex CLI 0.171, Claude Code 2.1.197 and 2.1.332, Gemini CLI 0.61 in tmux and kitty
# (see docs/agents.md and tests/screens/).
_PASTED = r"^\[Past(ed|e) (Content|text|Text)\b[^\]]*\]$"  # how TUIs fold a large paste in the composer
BUILTIN_KINDS: dict[str, dict[str, Any]] = {
    "codex": {
        "busy": [r"esc to interrupt", r"^\s*[•◦] Working \("],  # the bullet blinks: • and ◦
        "composer": r"^\s*›\s?(?P<draft>.*)$",
        "placeholder": [r"^Ask Codex to do anything$", r"^Ask the demo agent anything$"],
        "ready": [r"\? for shortcuts"],
        "dialog": [
            r"Would you like to run the following command\?",
            r"Would you like to (make|apply) the following (edits|changes)\?",
            r"Press enter to confirm or esc to cancel",
            r"^\s*›\s*1\.\s+(Yes, (proceed|allow)|Trust and continue)",
            r"Hooks need review",
            r"Do you trust the (contents|files) of this (directory|folder)\?",
            r"^\s*Trust this folder\? ",  # 0.171's folder-trust screen (a git repository not yet trusted)
        ],
        "pasted": [_PASTED],
    },
    "claude": {
        # 2.1.332: messages a person queued during a turn turn the empty composer's placeholder into this
        "busy": [r"esc to interrupt", r"^\s*❯[\u00a0 ]Press up to edit queued messages\s*$"],
        "composer": r"^\s*[│ ]*❯[\u00a0 ]?(?P<draft>.*?)[│ ]*$",
        # 2.1.332 draws these in the empty composer, the first letter in reverse video (its own cursor)
        "placeholder": [r"^Resend your message to try again$", r"^Press up to edit queued messages$"],
        "ready": [r"\? for shortcuts", r"auto mode on \(shift\+tab to cycle\)"],
        "dialog": [
            r"^\s*[│ ]*Do you want to .*\?\s*[│ ]*$",
            r"Esc to cancel · Tab to amend",
            r"^\s*[│ ]*❯\s*1\.\s+Yes\b",
            r"Do you trust the files in this folder\?",  # older releases
            r"Is this a project you created or one you trust\?",  # its folder-trust dialog (2.1.197)
            r"Enter to (confirm|select) · (Esc|↑/↓)",
            # 2.1.332's one-time selection when ~/.claude/settings.json asks for manual mode; its
            # options are unnumbered, so the selected one is shaped like the composer
            r"Make auto mode your default permission mode\?",
            r"^\s*❯\s+Yes, set auto mode as my default\b",
        ],
        "pasted": [_PASTED],
    },
    "gemini": {
        "busy": [r"esc to cancel", r"^\s*[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]"],
        "composer": r"^[\s│╭╰|]*>\s+(?P<draft>.*?)[\s│|]*$",
        "placeholder": [r"^Type your message or @path/to/file$"],
        "ready": [r"Type your message"],
        "dialog": [
            r"Allow execution of",
            r"^[\s│|]*●\s*1\.\s+(Allow|Yes|Trust folder)",
            r"Do you trust (the files in )?this folder\?",  # 0.61 asks "Do you trust the files in this folder?"
            r"Waiting for user confirmation",
            r"Apply this change\?",
        ],
        "pasted": [_PASTED],
    },
    # Shells and unknown programs: the line holding the cursor must end in a prompt.
    "shell": {"busy": [], "composer": "", "placeholder": [], "ready": [], "dialog": [], "pasted": []},
    "other": {"busy": [], "composer": "", "placeholder": [], "ready": [], "dialog": [], "pasted": []},
}
# A prompt: anything, then one of the usual prompt ends; capture-pane drops the trailing space.
_PROMPT = re.compile(r"^(?P<prompt>.*?(?:[$#%>»❯›λ]|\][$#]))(?:\s+(?P<draft>.*))?$")
# A shell's continuation prompt (bash PS2 `>`, zsh `for>`, `heredoc>`, `dquote>`...) is the middle of
# a command the person is writing, not an idle prompt.
_CONTINUATION = re.compile(r"^\s*(?:[a-z]+\s)*[a-z]*>$")
# Rules and box edges; Claude 2.1.332 frames a dialog's command with dashed rules (╌), Gemini in kitty
# draws its composer box with half blocks (▄ above, ▀ below).
_RULE = re.compile(r"^[\s─━═│┃╭╮╰╯┌┐└┘├┤┬┴┼╌╍┄┅┈┉▔▁▀▄-]*$")
_BOX_EDGES = "│┃|╭╮╰╯ \u00a0"
_MODES = {
    "copy-mode": "copy mode",
    "view-mode": "view mode",
    "clock-mode": "clock mode",
    "tree-mode": "choose-tree",
    "client-mode": "choose-client",
    "buffer-mode": "choose-buffer",
    "options-mode": "customize mode",
}


@dataclass
class Surface:
    """One judgement of a target: its surface, a reason a person understands, and the composer text."""

    kind: SurfaceKind
    reason: str
    text: str = ""  # the composer's text (draft / ours)
    typed: dict | None = field(default=None, repr=False)  # the typed-text record when `ours`

    def as_dict(self) -> dict:
        return {"surface": self.kind, "reason": self.reason}


def kind_spec(kind: str, cfg: Mapping[str, Any] | None = None) -> dict:
    """The patterns for KIND: built-in, overlaid by the config's `kinds`; unknown kinds are 'other'."""
    if cfg is None:
        from termbridge.config import load_config

        cfg = load_config()
    spec = dict(BUILTIN_KINDS.get(kind, BUILTIN_KINDS["other"]))
    spec.update((cfg.get("kinds") or {}).get(kind, {}))
    return spec


# ---------------------------------------------------------------- styles
class _Pen:
    """The SGR state that matters here: faint, a grey foreground (how placeholders are drawn), and
    reverse video (how TUIs that hide the terminal's cursor draw their own)."""

    __slots__ = ("faint", "fg", "reverse")

    def __init__(self) -> None:
        self.faint = False
        self.fg: tuple | None = None  # ("idx", n) or ("rgb", r, g, b)
        self.reverse = False

    @property
    def dim(self) -> bool:
        return self.faint or _is_grey(self.fg)


# Mid greys are how placeholders are drawn (Gemini CLI's truecolor placeholder is 175,175,175);
# near-white (200 and up) and near-black are how drafts are drawn in some themes.
_GREY_MAX = 180


def _is_grey(color: tuple | None) -> bool:
    if color is None:
        return False
    if color[0] == "idx":
        n = color[1]
        if n == 8:
            return True  # "bright black"
        if 232 <= n <= 255:
            v = 8 + 10 * (n - 232)
            return 60 <= v <= _GREY_MAX
        if 16 <= n <= 231:
            levels = (0, 95, 135, 175, 215, 255)
            n -= 16
            r, g, b = levels[n // 36], levels[n // 6 % 6], levels[n % 6]
            return max(r, g, b) - min(r, g, b) <= 20 and 60 <= (r + g + b) / 3 <= _GREY_MAX
        return False
    r, g, b = color[1:]
    return max(r, g, b) - min(r, g, b) <= 20 and 60 <= (r + g + b) / 3 <= _GREY_MAX


def _num(s: str) -> int:
    try:
        return int(s)
    except ValueError:
        return 0


def _extended_color(sub: list[str]) -> tuple | None:
    """A colour from the parameters after 38/48/58: ['5', n] or ['2', (colourspace,) r, g, b]."""
    if not sub:
        return None
    if sub[0] == "5" and len(sub) >= 2:
        return ("idx", _num(sub[1]) % 256)
    if sub[0] == "2":
        rgb = sub[1:]
        if len(rgb) >= 4:
            rgb = rgb[-3:]  # "2::r:g:b" / "2:cs:r:g:b": a colour-space id comes first
        if len(rgb) == 3:
            return ("rgb", *(min(_num(x), 255) for x in rgb))
    return None


def apply_sgr(pen: _Pen, params: str) -> None:
    """Apply one SGR sequence's PARAMS to PEN, read as a sequence (the 2 in `38;2;r;g;b` is no 'faint')."""
    groups = [g.split(":") for g in params.split(";")] if params else [["0"]]
    i = 0
    while i < len(groups):
        g = groups[i]
        p = g[0] or "0"
        if len(g) > 1:  # colon form: this group carries its own sub-parameters (38:2::r:g:b, 4:3...)
            if p == "38":
                pen.fg = _extended_color(g[1:])
            i += 1
            continue
        if p in ("38", "48", "58"):
            rest = [x[0] for x in groups[i + 1 : i + 5]]
            width = 2 if rest[:1] == ["5"] else 4 if rest[:1] == ["2"] else 0
            if p == "38":
                pen.fg = _extended_color(rest[: width + 1])
            i += 1 + width
            continue
        n = _num(p)
        if n == 0:
            pen.faint, pen.fg, pen.reverse = False, None, False
        elif n == 7:
            pen.reverse = True
        elif n == 27:
            pen.reverse = False
        elif n == 2:
            pen.faint = True
        elif n == 22:
            pen.faint = False
        elif 30 <= n <= 37:
            pen.fg = ("idx", n - 30)
        elif n == 39:
            pen.fg = None
        elif 90 <= n <= 97:
            pen.fg = ("idx", n - 90 + 8)
        i += 1


_SGR_OR_OTHER = re.compile(r"\x1b\[([0-9;:]*)m|\x1b\[[0-9;:?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def styled_cells(styled_line: str, pen: _Pen | None = None) -> list[tuple[str, bool]]:
    """STYLED_LINE as (character, dim) pairs; joined, the characters are its plain text.

    A lone reverse-video cell is a TUI's own cursor (Claude Code 2.1.332, Gemini CLI): it takes
    the dimness of the cell after it, so a placeholder whose first letter the cursor covers
    (`❯ ` + reverse `R` + faint `esend your message…`) is still a placeholder."""
    pen = pen or _Pen()
    out: list[tuple[str, bool, bool]] = []
    pos = 0
    for m in _SGR_OR_OTHER.finditer(styled_line):
        out.extend((ch, pen.dim, pen.reverse) for ch in styled_line[pos : m.start()])
        if m.group(1) is not None:
            apply_sgr(pen, m.group(1))
        pos = m.end()
    out.extend((ch, pen.dim, pen.reverse) for ch in styled_line[pos:])
    cells = [(ch, dim) for ch, dim, _ in out]
    for k in range(len(out) - 1):
        lone = out[k][2] and not out[k + 1][2] and (k == 0 or not out[k - 1][2])
        if lone and out[k + 1][1]:
            cells[k] = (out[k][0], True)
    return cells


# ---------------------------------------------------------------- the composer
def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text.replace("\u00a0", " "))


def _lines(screen: Screen) -> tuple[list[str], list[list[tuple[str, bool]]] | None]:
    """Plain lines and, when styles were captured, per-line cells (the pen carries across lines)."""
    if screen.styled is None:
        return screen.text.rstrip("\n").split("\n"), None
    pen = _Pen()
    cells = [styled_cells(line, pen) for line in screen.styled.rstrip("\n").split("\n")]
    return ["".join(ch for ch, _ in c) for c in cells], cells


def _undimmed(line_cells: list[tuple[str, bool]] | None, start: int, end: int, plain: str, typed_upto: int = -1) -> str:
    """The characters of PLAIN[START:END] a person typed: not faint or grey -- except those left of
    TYPED_UPTO (the cursor on this line), which were typed whatever their style (a placeholder or
    a suggestion sits at or after the cursor; a person's text ends where the cursor is)."""
    if line_cells is None or end > len(line_cells):
        return plain[start:end]
    return "".join(ch for k, (ch, dim) in enumerate(line_cells[start:end], start) if not dim or k < typed_upto)


@dataclass
class Composer:
    """The composer found on screen: its line, the person-visible draft and the whole region's text."""

    line: int
    draft: str  # without placeholder and faint/grey text
    region: str  # the composer's text over its continuation lines (for `ours`)
    last: int = -1  # the region's last line
    folded: bool = False  # the region touches the screen's top or bottom: part of it may be off screen


def find_composer(
    lines: list[str], cells, spec: dict, cursor: tuple[int, int] | None = None, typed: dict | None = None
) -> Composer | None:
    """The last line matching the kind's composer pattern, with its draft and continuation lines.

    With TYPED (termbridge's unsubmitted text), the composer may start higher up the same block of
    text: termbridge quotes each framed message with `> `, a line Gemini's composer pattern matches
    too, so a composer-shaped line above it whose region is exactly the typed text is the composer."""
    rx = re.compile(spec["composer"])
    for i in range(len(lines) - 1, -1, -1):
        m = rx.match(lines[i])
        if not m:
            continue
        comp = _composer_at(lines, cells, spec, i, m, cursor)
        if typed is None or _is_typed(comp.region or comp.draft, typed, spec, comp.folded):
            return comp
        k = i - 1
        while k >= 0 and lines[k].strip() and not _RULE.match(lines[k]):
            mk = rx.match(lines[k])
            higher = _composer_at(lines, cells, spec, k, mk, cursor) if mk else None
            if higher and higher.last >= i and _is_typed(higher.region, typed, spec, higher.folded):
                return higher
            k -= 1
        return comp
    return None


def _composer_at(lines: list[str], cells, spec: dict, i: int, m: re.Match, cursor: tuple[int, int] | None) -> Composer:
    """The composer whose first line is line I (M: the composer pattern's match there)."""

    def upto(y: int) -> int:
        return cursor[0] if cursor is not None and cursor[1] == y else -1

    raw = m.group("draft")
    draft = _undimmed(cells[i] if cells else None, m.start("draft"), m.end("draft"), lines[i], upto(i))
    draft = draft.replace("\u00a0", " ").strip()
    if any(re.search(p, raw.replace("\u00a0", " ").strip()) for p in spec.get("placeholder", [])):
        draft = ""
    region = [raw.replace("\u00a0", " ").strip()] if draft else []
    stops = [re.compile(p) for p in spec.get("ready", []) + spec.get("busy", [])]
    last = i
    for j in range(i + 1, len(lines)):
        nxt = lines[j]
        if not nxt.strip() or _RULE.match(nxt) or any(s.search(nxt) for s in stops):
            break
        text = nxt.strip(_BOX_EDGES).strip()
        undim = _undimmed(cells[j] if cells else None, 0, len(nxt), nxt, upto(j)).strip(_BOX_EDGES).strip()
        if not undim:
            break
        region.append(text)
        last = j
        if not draft:
            draft = undim
    return Composer(i, draft, "\n".join(region), last, folded=i == 0 or last >= len(lines) - 1)


def find_dialog(lines: list[str], spec: dict, below: int) -> str | None:
    """A reason if one of the kind's dialog patterns shows below line BELOW (above it is history)."""
    pats = [re.compile(p) for p in spec.get("dialog", [])]
    for j in range(max(below + 1, 0), len(lines)):
        if any(p.search(lines[j]) for p in pats):
            return _dialog_reason(lines, j)
    return None


def _dialog_reason(lines: list[str], j: int) -> str:
    """'permission dialog: Bash(touch x) — Do you want to proceed?': the question and what it is about."""
    near = [ln.strip(_BOX_EDGES).strip() for ln in lines[max(j - 8, 0) : j + 8]]
    question = lines[j].strip(_BOX_EDGES).strip()
    if not _QUESTION.search(question):  # a footer ("Enter to confirm · Esc to cancel"): the question is above
        above = (ln.strip(_BOX_EDGES).strip() for ln in reversed(lines[max(j - _HEADING_LOOKBACK, 0) : j]))
        question = next((q for q in above if _QUESTION.search(q) and not q.startswith("?")), question)
    label = (
        "permission dialog"
        if re.search(r"\b(proceed|run|execution|[Aa]llow|edits|changes)\b", " ".join(near))
        else "dialog"
    )
    if re.search(r"trust", question, re.I):
        label = "trust dialog"
    about = ""
    top = max(j - _HEADING_LOOKBACK, 0)
    wide = [ln.strip(_BOX_EDGES).strip() for ln in lines[top : j + 8]]
    for k, ln in enumerate(wide):
        m = re.match(r"^\$\s+(.+)$", ln) or re.match(r"^\?\s+(\w+)\s{2,}(.+)$", ln)
        if m and k >= j - 8 - top:  # Codex "$ cmd"; Gemini "? Shell  cmd"
            about = m.group(1) if m.lastindex == 1 else f"{m.group(1)}({m.group(2)})"
            break
        m = re.match(r"^(\w+) command$", ln)
        cmd = _claude_command(wide[k + 1 : max(j - top, k + 4)]) if m else ""
        if m and cmd:  # Claude "Bash command" / the command
            about = f"{m.group(1)}({cmd})"
            break
    return (f"{label}: {about} — {question}" if about else f"{label}: {question}")[:160]


# How far above its question Claude's dialog heading ("Bash command") may be: 2.1.332 puts a tip, the
# description and a framed command between them.
_HEADING_LOOKBACK = 16
_QUESTION = re.compile(r"\?(\s|$)")
_DASHED = set("╌╍┄┅┈┉")


def _claude_command(body: list[str]) -> str:
    """The command in the lines under Claude's "Bash command" heading: 2.1.197 puts it first (then
    the description); 2.1.332 puts a "Tip: …" line and the description first and frames the command
    between dashed rules."""
    framed = [i for i, x in enumerate(body) if x and _RULE.match(x) and _DASHED & set(x)]
    if framed:
        end = framed[1] if len(framed) > 1 else len(body)
        inside = [x for x in body[framed[0] + 1 : end] if x]
        if inside:
            return " ".join(inside)
    return next((x for x in body if x and not x.startswith("Tip:") and not _RULE.match(x)), "")


def read_prompt(lines: list[str], cells, cursor: tuple[int, int] | None) -> str | None:
    """A shell's draft at its prompt ('' at an idle prompt), or None when the cursor line is no prompt.

    Faint or grey text after the prompt (autosuggestions, placeholders) is no draft."""
    if cursor is not None:
        y = cursor[1]
    else:  # no cursor (kitty): the last non-empty line
        y = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip()), len(lines))
    line = lines[y] if y < len(lines) else ""
    m = _PROMPT.match(line.rstrip())
    if m is None or _CONTINUATION.match(m.group("prompt")):
        return None
    if m.group("draft") is None:
        return ""
    return _undimmed(cells[y] if cells and y < len(cells) else None, m.start("draft"), m.end("draft"), line).strip()


# ---------------------------------------------------------------- one sample
def judge_screen(
    screen: Screen, spec: dict, typed: dict | None = None, shell: bool = False, quiet_ms_min: int = 500
) -> Surface:
    """The surface one SCREEN sample shows (no second sample, no hook marks)."""
    if screen.mode:
        name = _MODES.get(screen.mode, screen.mode)
        return Surface("working", f"pane is in {name}")
    lines, cells = _lines(screen)
    if spec.get("composer"):
        comp = find_composer(lines, cells, spec, screen.cursor, typed)
        below = comp.line if comp else -1
        if comp is not None and find_dialog([lines[comp.line]], spec, -1):
            below = -1  # the "composer" line is itself a dialog's selected option (Claude's `❯ 1. Yes`)
            comp = None
        dialog = find_dialog(lines, spec, below)
        if dialog:
            return Surface("dialog", dialog)
        marker = busy_marker(lines, spec)
        if comp and comp.draft:
            s = _text_in_composer(comp.region or comp.draft, comp.draft, spec, typed, comp.folded)
            if s.kind == "ours" and marker:
                # A composer-shaped line with termbridge's text over a busy marker is the agent's history
                # (Codex's `› text` above `• Working`), or text it took while working: never Enter into
                # a turn. A person's draft stays a draft (never typed over, not even by --force).
                return Surface("working", f"{marker}; termbridge's text shows, but no Enter goes into a working agent")
            return s
        if marker:
            return Surface("working", marker)
        if comp is None:
            if typed and _fills_screen(lines, typed):
                return Surface(
                    "ours", "termbridge's own text fills the screen (its composer line scrolled off)", "", typed
                )
            return Surface("unknown", "no composer visible")
        return Surface("idle", "the composer is empty")
    # shells and other programs: the prompt at the cursor
    if screen.osc133 == "C":
        return Surface("working", "a command is running (OSC 133)")
    draft = read_prompt(lines, cells, screen.cursor)
    if draft is None:
        if shell:
            return Surface("working", "no prompt at the cursor (a command is running?)")
        return Surface("unknown", "no prompt or composer recognised")
    if draft:
        return _text_in_composer(draft, draft, spec, typed)
    if screen.quiet_ms is not None and screen.quiet_ms < quiet_ms_min:
        return Surface("working", f"output {screen.quiet_ms} ms ago")
    return Surface("idle", "at an idle prompt")


def _text_in_composer(region: str, draft: str, spec: dict, typed: dict | None, partial: bool = False) -> Surface:
    """Text in the composer is `ours` only when it is exactly what termbridge typed: a person who
    added, removed or changed anything made it a draft. PARTIAL: the region touches the screen's
    edge, so only a part of the text may show (a long paste); that part must then be a piece of it.
    A TUI's folded paste (`[Pasted Content 1843 chars]`) is ours when its size is the typed text's."""
    if typed and _is_typed(region, typed, spec, partial):
        what = "paste" if _folded_paste_of(region, str(typed["text"]), spec) else "text"
        return Surface("ours", f"termbridge's own {what} is in the composer, not submitted", region, typed)
    return Surface("draft", "a draft is in the composer", draft)


def _is_typed(region: str, typed: dict, spec: dict, partial: bool = False) -> bool:
    """REGION is exactly TYPED's text (or, PARTIAL, a long enough piece of it; or its folded paste)."""
    if not isinstance(typed.get("text"), str):
        return False
    have, mine = _norm(region), _norm(typed["text"])
    if have == mine or (partial and have and have in mine and len(have) >= min(len(mine), 10)):
        return True
    return _folded_paste_of(region, typed["text"], spec)


def _folded_paste_of(region: str, text: str, spec: dict) -> bool:
    """REGION is the TUI's folded form of a paste of TEXT: `[Pasted Content N chars]` with N its length,
    or `[Pasted text #1 +N lines]` with N its line count (one off either way)."""
    shown = region.strip()
    if not any(re.search(p, shown) for p in spec.get("pasted", [])):
        return False
    m = re.search(r"(\d+)\s*(chars?|characters?|lines?)", shown)
    if not m:
        return False
    n, unit = int(m.group(1)), m.group(2)
    if unit.startswith("char"):
        return abs(n - len(text)) <= 2
    return abs(n - text.count("\n")) <= 1


def _fills_screen(lines: list[str], typed: dict) -> bool:
    """Every non-empty line on screen is a piece of the typed text (a paste taller than the pane)."""
    shown = _norm("".join(ln.strip(_BOX_EDGES) for ln in lines if ln.strip()))
    mine = _norm(str(typed.get("text") or ""))
    return len(shown) >= 10 and shown in mine


def busy_marker(lines: list[str], spec: dict) -> str | None:
    """A reason when one of the kind's busy markers is on screen."""
    for p in spec.get("busy", []):
        rx = re.compile(p)
        for line in lines:
            if rx.search(line):
                return f"{' '.join(line.split())[:60]!r} on screen"
    return None


# ---------------------------------------------------------------- typed text (ours)
def typed_path(home: StrPath, name: str) -> str:
    from termbridge.session_files import SessionFiles

    return SessionFiles.of(home, name).typed


def remember_typed(home: StrPath, name: str, target: str, text: str, ids: list[str], what: str) -> None:
    """Record the text termbridge is about to type (before typing: a crash then still knows it)."""
    from termbridge import paths
    from termbridge.registry import session_dir

    paths.ensure_dir(session_dir(home, name))
    rec = {"text": text, "target": target, "ids": ids, "what": what, "t": time.time()}
    paths.atomic_write(typed_path(home, name), json.dumps(rec, ensure_ascii=False).encode())


def read_typed(home: StrPath, name: str, target: str | None = None) -> dict | None:
    """The recorded unsubmitted text for NAME (at TARGET, when given), if any."""
    from termbridge import paths

    rec = paths.read_json(typed_path(home, name))
    if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
        return None
    if target is not None and rec.get("target") != target:
        return None
    if not isinstance(rec.get("ids"), list) or not all(isinstance(i, str) for i in rec["ids"]):
        rec["ids"] = []
    return rec


def auto_enter(typed: dict | None) -> bool:
    """Whether a drain, wake or waiter may press Enter on termbridge's own text: a drain's framed
    messages or a nudge, yes; what `termbridge submit` typed (`--no-enter`, or an unconfirmed
    submit) is its caller's to submit (`--enter-only`), never an unrelated delivery's."""
    return typed is not None and typed.get("what") in ("messages", "nudge")


def forget_typed(home: StrPath, name: str) -> None:
    """The typed text was submitted (or is gone): it is no longer ours to press Enter on."""
    from termbridge import paths

    paths.unlink_durable(typed_path(home, name))


# ---------------------------------------------------------------- reading a target
def screen_of(tgt: Target, env: Mapping[str, str] | None = None) -> Screen:
    """One screen sample of TGT from its backend."""
    from termbridge.targets import backend_module

    return backend_module(tgt.backend).screen(tgt, env=env)


def read_surface(
    home: StrPath,
    sess,
    tgt: Target,
    sample: bool = True,
    cfg: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    screen: Screen | None = None,
) -> Surface:
    """The surface of SESS at TGT: one screen sample (SCREEN, when the caller read it already: `status`
    reads a whole tmux server's at once), hook marks, and (SAMPLE) a second sample for idle."""
    from termbridge import idle

    if cfg is None:
        from termbridge.config import load_config

        cfg = load_config()
    spec = kind_spec(sess.kind, cfg)
    typed = read_typed(home, sess.name, tgt.target)
    shell = sess.is_shell()
    first = screen if screen is not None else screen_of(tgt, env)
    s = judge_screen(first, spec, typed, shell, cfg["pty_quiet_ms"])
    if s.kind != "idle":
        idle.screen_not_idle(home, sess.name)
        return s
    mark = idle.fresh_busy_mark(home, sess.name, cfg)
    if mark:
        # A hint, not a verdict: the screen overrules it once it reads idle for SCREEN_IDLE_S.
        held = idle.screen_idle_under(home, sess.name, mark, f"{zlib.crc32(screen_content(first).encode()):08x}")
        if held < idle.SCREEN_IDLE_S:
            return Surface("working", f"{idle.busy_reason(mark)} (the screen reads idle: looking again)")
        s = Surface("idle", f"{s.reason}; the agent hook's busy mark is outdated (idle on screen for {held:.1f} s)")
    if tgt.backend == "pty":  # the wrapper's own output timing stands in for a second sample
        if first.quiet_ms is not None and first.quiet_ms < cfg["pty_quiet_ms"]:
            return Surface("working", f"output {first.quiet_ms} ms ago")
        return s
    if not sample:
        return s
    time.sleep(cfg["idle_sample_ms"] / 1000.0)
    second = screen_of(tgt, env)
    if screen_content(second) != screen_content(first):
        return Surface("working", f"the screen changed within {cfg['idle_sample_ms']} ms")
    s2 = judge_screen(second, spec, typed, shell, cfg["pty_quiet_ms"])
    if s2.kind == "idle":
        return Surface("idle", f"{s.reason}; the screen stayed unchanged for {cfg['idle_sample_ms']} ms")
    return s2


def screen_content(screen: Screen) -> str:
    """SCREEN's text as a person reads it, for comparing samples: each line without trailing blanks.

    A TUI that draws its own cursor (Claude Code 2.1.332, Gemini CLI in kitty: a reverse-video
    cell) draws it or not as its window gains or loses focus, and kitty's get-text keeps that
    trailing cell as a space; it is no change of content. Styles are not compared at all."""
    return "\n".join(line.rstrip() for line in screen.text.rstrip().split("\n"))
