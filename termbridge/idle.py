"""Is the target idle? A layered judgement where unknown counts as busy.

Signals, strongest first:
  1. a draft in the composer (text the human typed) -> busy, always, even with --force
  2. a busy marker on screen (per kind: "esc to interrupt"...) -> busy
  3. a fresh `mark busy` from an agent hook (newer than its last `mark idle`) -> busy
  4. PTY wrapper: OSC 133 "command running", or output within pty_quiet_ms -> busy
  5. two screen samples idle_sample_ms apart differ -> busy
Only when none of these fires, and the composer is recognisably empty, is it idle.
Per-kind patterns are data (BUILTIN_KINDS, extended by the config's `kinds`).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from termbridge import paths, registry
from termbridge.backends import Screen, Target
from termbridge.config import load_config

# Checked against Codex CLI 0.171, Claude Code 2.1.197 and Gemini CLI 0.61 (see REAL_AGENTS.md).
BUILTIN_KINDS: dict[str, dict] = {
    "codex": {
        "busy": [r"esc to interrupt", r"^\s*• Working \("],
        "composer": r"^\s*›\s?(?P<draft>.*)$",
        "placeholder": [r"^Ask Codex to do anything$"],
        "ready": [r"\? for shortcuts"],
    },
    "claude": {
        "busy": [r"esc to interrupt"],
        "composer": r"^\s*[│ ]*❯[\u00a0 ]?(?P<draft>.*?)[│ ]*$",
        "placeholder": [],
        "ready": [r"\? for shortcuts"],
    },
    "gemini": {
        "busy": [r"esc to cancel", r"^\s*[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]"],
        "composer": r"^[\s│╭╰|]*>\s+(?P<draft>.*?)[\s│|]*$",
        "placeholder": [r"^Type your message or @path/to/file$"],
        "ready": [r"Type your message"],
    },
    # Shells and unknown programs: the line holding the cursor must end in a prompt.
    "shell": {"busy": [], "composer": "", "placeholder": [], "ready": []},
    "other": {"busy": [], "composer": "", "placeholder": [], "ready": []},
}
_PROMPT_END = re.compile(r"^.*?(?:[$#%>»❯›]|\]\$?)\s(?P<draft>.*)$")
_SGR = re.compile(r"\x1b\[([0-9;:]*)m")
_ANY_CSI = re.compile(r"\x1b\[[0-9;:?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def strip_sgr(text: str) -> str:
    """TEXT without escape sequences (for screens captured with styles)."""
    return _ANY_CSI.sub("", text)


def kind_spec(kind: str, cfg: dict | None = None) -> dict:
    """The patterns for KIND: built-in, overlaid by the config's `kinds`; unknown kinds are 'other'."""
    cfg = cfg or load_config()
    spec = dict(BUILTIN_KINDS.get(kind, BUILTIN_KINDS["other"]))
    spec.update(cfg.get("kinds", {}).get(kind, {}))
    return spec


@dataclass
class Verdict:
    state: str  # "idle" | "busy"
    reason: str
    draft: bool = False

    @property
    def idle(self) -> bool:
        return self.state == "idle"


def _busy(reason: str, draft: bool = False) -> Verdict:
    return Verdict("busy", reason, draft)


# ---------------------------------------------------------------- hook marks
def mark_path(home: Path, name: str) -> Path:
    return registry.session_dir(home, name) / "mark.json"


def set_mark(home: Path, name: str, state: str) -> None:
    """Record an agent hook's idle/busy report (time-stamped)."""
    paths.ensure_dir(registry.session_dir(home, name))
    paths.atomic_write(mark_path(home, name), json.dumps({"state": state, "t": time.time()}).encode())


def read_mark(home: Path, name: str) -> dict | None:
    return paths.read_json(mark_path(home, name))


def busy_mark(home: Path, name: str, cfg: dict) -> str | None:
    """A reason if the latest hook mark says busy and is not stale."""
    m = read_mark(home, name)
    if m and m.get("state") == "busy":
        age = time.time() - float(m.get("t", 0))
        if age < cfg["busy_mark_stale_s"]:
            return f"agent hook marked busy {age:.0f}s ago"
    return None


# ---------------------------------------------------------------- screens
def _dim_spans(styled_line: str) -> str:
    """The characters of STYLED_LINE that are not dim/grey (placeholder text is drawn dim)."""
    out, dim, pos = [], False, 0
    for m in _SGR.finditer(styled_line):
        if not dim:
            out.append(strip_sgr(styled_line[pos : m.start()]))
        params = [p for p in re.split("[;:]", m.group(1)) if p != ""] or ["0"]
        i = 0
        while i < len(params):
            p = params[i]
            if p in ("0", "22", "39"):
                dim = False
            elif p in ("2", "90"):
                dim = True
            elif p == "38" and i + 2 < len(params) and params[i + 1] == "5":
                dim = 240 <= int(params[i + 2] or 0) <= 247
                i += 2
            i += 1
        pos = m.end()
    if not dim:
        out.append(strip_sgr(styled_line[pos:]))
    return "".join(out)


def composer_draft(screen: Screen, spec: dict) -> str | None:
    """The human's draft in the composer ('' when empty), or None if no composer is visible."""
    lines = screen.text.rstrip("\n").split("\n")
    styled = screen.styled.rstrip("\n").split("\n") if screen.styled else None
    if not spec.get("composer"):
        # Shells and unknown programs: judge the line the cursor is on.
        if screen.cursor is None:
            return None
        x, y = screen.cursor
        if y >= len(lines):
            return ""
        m = _PROMPT_END.match(lines[y][:x] if x else lines[y])
        return None if m is None else (m.group("draft") + lines[y][x:]).strip()
    rx = re.compile(spec["composer"])
    for i in range(len(lines) - 1, -1, -1):
        m = rx.match(lines[i])
        if not m:
            continue
        draft = m.group("draft").replace("\u00a0", " ").strip()
        if draft and styled and i < len(styled):
            sm = rx.match(_dim_spans(styled[i]))
            draft = sm.group("draft").replace("\u00a0", " ").strip() if sm else draft
        if any(re.search(p, draft) for p in spec.get("placeholder", [])):
            draft = ""
        return draft
    return None


def busy_marker(screen: Screen, spec: dict) -> str | None:
    for p in spec.get("busy", []):
        for line in screen.text.split("\n"):
            if re.search(p, line):
                return f"busy marker on screen: {line.strip()[:60]!r}"
    return None


def _judge_screen(screen: Screen, spec: dict) -> Verdict | None:
    if screen.extra.get("in_mode"):
        return _busy("pane is in copy mode")
    draft = composer_draft(screen, spec)
    if draft:
        return _busy("a draft is in the composer", draft=True)
    marker = busy_marker(screen, spec)
    if marker:
        return _busy(marker)
    if draft is None:
        return _busy("no empty composer or prompt visible")
    return None


def judge(home: Path, sess: registry.Session, tgt: Target, sample: bool = True, draft_only: bool = False,
          cfg: dict | None = None) -> Verdict:
    """The layered verdict for SESS at TGT. DRAFT_ONLY (drain --force) checks only for a draft."""
    cfg = cfg or load_config()
    spec = kind_spec(sess.kind, cfg)
    from termbridge.targets import backend_module

    backend = backend_module(tgt.backend)
    if tgt.backend == "pty":
        info = backend.screen(tgt).extra
        if info.get("draft"):
            return _busy("the user has typed a draft", draft=True)
        if draft_only:
            return Verdict("idle", "forced (no draft)")
        reason = busy_mark(home, sess.name, cfg)
        if reason:
            return _busy(reason)
        if info.get("prompt") == "C":
            return _busy("a command is running (OSC 133)")
        if info.get("quiet_ms", 0) < cfg["pty_quiet_ms"]:
            return _busy(f"output {info.get('quiet_ms')} ms ago")
        if info.get("prompt") in ("A", "B", "D"):
            return Verdict("idle", "at a prompt (OSC 133)")
        return Verdict("idle", f"output silent for {info.get('quiet_ms')} ms")
    first = backend.screen(tgt)
    if draft_only:
        draft = composer_draft(first, spec)
        return _busy("a draft is in the composer", draft=True) if draft else Verdict("idle", "forced (no draft)")
    verdict = _judge_screen(first, spec)
    if verdict:
        return verdict
    reason = busy_mark(home, sess.name, cfg)
    if reason:
        return _busy(reason)
    if not sample:
        return Verdict("idle", "screen shows an empty composer (single sample)")
    time.sleep(cfg["idle_sample_ms"] / 1000.0)
    second = backend.screen(tgt)
    if second.text != first.text:
        return _busy(f"screen changed within {cfg['idle_sample_ms']} ms")
    return _judge_screen(second, spec) or Verdict("idle", f"screen unchanged for {cfg['idle_sample_ms']} ms, composer empty")
