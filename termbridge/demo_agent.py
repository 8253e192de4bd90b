"""A small raw-mode TUI that behaves like the real agent TUIs, for `termbridge demo` and the tests.

It enables bracketed paste and applies Codex's rule: >= 3 chars within 8 ms form a burst,
and an Enter within 120 ms of burst activity or of a paste end inserts a newline instead
of submitting. Each submission is appended to --log as a JSON line. Its screen follows
Codex's: `› draft` (a dim placeholder when empty), `• Working (Ns • esc to interrupt)`
while busy, `? for shortcuts` when idle and empty.

Commands typed into it: `/busy N` (busy N seconds, printing output), `/dialog` (a Codex-like
approval dialog: Enter or `y` approves and is logged as `{"approved": ...}`, Esc or `n`
declines), `/quit`. `--swallow N` drops the first N Enters that would submit (-1: every
one), like a TUI that is not ready or is redrawing.

`--hooks KIND` runs termbridge's hooks as its own children, as agent KIND runs them: SessionStart
at start (with `--record` as its transcript), UserPromptSubmit at each submission, Stop at the end
of each turn with its reply as `last_assistant_message` (Gemini: AfterAgent's `prompt_response`);
a Stop that hands messages over continues the turn with them. Its reply to a turn is "Answer to
'<first quoted line of the newest peer message>': yes." when the turn's text holds one, else
"Done.". Start it through `launcher(dir, KIND)` so its process is recognised as that agent.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import subprocess
import sys
import termios
import time
import tty
import uuid
from pathlib import Path

BURST_CHARS, BURST_WINDOW, ENTER_SUPPRESS = 3, 0.008, 0.120
PLACEHOLDER = "Ask the demo agent anything"


_QUOTED = re.compile(r"^> (.+)$", re.M)


def launcher(directory: Path | str, kind: str) -> Path:
    """An executable named KIND in DIRECTORY/bin that runs the demo agent: its process is then
    recognised as agent KIND (by its script name), as a real agent's would be."""
    d = Path(directory) / "bin"
    d.mkdir(parents=True, exist_ok=True)
    path = d / kind
    path.write_text(f"#!{sys.executable}\nimport sys\nfrom termbridge.demo_agent import main\nsys.exit(main())\n")
    path.chmod(0o755)
    return path


def reply_to(text: str) -> str:
    """The demo agent's answer to a turn whose text is TEXT."""
    quoted = _QUOTED.findall(text)
    return f"Answer to {quoted[-1].strip()!r}: yes." if quoted else "Done."


class Agent:
    def __init__(
        self,
        log: str,
        title: str,
        work: float,
        swallow: int = 0,
        record: str | None = None,
        hooks: str | None = None,
    ):
        self.log, self.title, self.work, self.swallow = log, title, work, swallow
        self.record_path = os.path.abspath(record) if record else None
        self.record = open(record, "a", encoding="utf-8") if record else None  # noqa: SIM115 - held open
        self.hooks = hooks
        self.sid = str(uuid.uuid4())
        self.turn_text = ""  # what the current turn was asked
        self.in_turn = False
        self.continued = False  # the turn goes on after a Stop hook handed messages over
        self.dialog: str | None = None
        self.draft = ""
        self.transcript: list[str] = []
        self.busy_until = 0.0
        self.busy_started = 0.0
        self.in_paste = False
        self.paste_end = -1.0
        self.last_burst = -1.0
        self.times: list[float] = []
        self.pending = b""
        self.last_step = 0.0

    # ------------------------------------------------------------------ input
    def feed(self, data: bytes, t: float) -> bool:
        """Consume input bytes; False means quit."""
        buf = self.pending + data
        self.pending = b""
        i = 0
        # A read can end inside a multi-byte character (a PTY hands over ~4 KiB at a time):
        # keep those bytes for the next read instead of dropping the character.
        cut = len(buf)
        for back in range(1, min(4, len(buf)) + 1):
            b = buf[-back]
            if b & 0xC0 != 0x80:  # the lead byte of the last character
                need = 4 if b >= 0xF0 else 3 if b >= 0xE0 else 2 if b >= 0xC0 else 1
                cut = len(buf) - back if need > back else len(buf)
                break
        buf, tail = buf[:cut], buf[cut:]
        text = buf.decode("utf-8", "ignore")
        while i < len(text):
            if text.startswith("\x1b[200~", i):
                self.in_paste, i = True, i + 6
                continue
            if text.startswith("\x1b[201~", i):
                self.in_paste, self.paste_end, i = False, t, i + 6
                continue
            ch = text[i]
            if ch == "\x1b" and self.dialog is not None and text[i : i + 6] not in ("\x1b[200~", "\x1b[201~"):
                self.answer(False, t)  # Esc cancels the dialog
                i += 1
                continue
            if ch == "\x1b":
                rest = text[i:]
                if len(rest) < 6 and ("\x1b[200~".startswith(rest) or "\x1b[201~".startswith(rest)):
                    self.pending = rest.encode()  # a split marker: wait for the rest
                    break
                j = i + 1
                if j < len(text) and text[j] == "O":  # SS3: application-mode keys (ESC O A is Up)
                    i = min(j + 2, len(text))
                    continue
                if j < len(text) and text[j] == "[":
                    j += 1
                    while j < len(text) and not ("@" <= text[j] <= "~"):
                        j += 1
                    j += 1
                i = max(j, i + 1)  # other escape sequences (arrows...) are ignored
                continue
            i += 1
            if self.dialog is not None and not self.in_paste:
                if ch in "\ry":
                    self.answer(True, t)
                elif ch in "\x1bn":
                    self.answer(False, t)
                continue  # a dialog takes every key: nothing reaches the composer
            if self.in_paste:
                self.draft += "\n" if ch in "\r\n" else ch
                continue
            if ch == "\r":
                if t - self.last_burst <= ENTER_SUPPRESS or t - self.paste_end <= ENTER_SUPPRESS:
                    self.draft += "\n"  # what Codex does: the Enter was part of a paste burst
                elif self.swallow != 0:
                    self.swallow -= 1 if self.swallow > 0 else 0  # not ready: this Enter is dropped
                elif not self.submit(t):
                    return False
            elif ch == "\n":
                self.draft += "\n"
            elif ch in "\x7f\x08":
                self.draft = self.draft[:-1]
            elif ch == "\x15":
                self.draft = ""
            elif ch in "\x03\x04":
                if not self.draft:
                    return False
                self.draft = ""
            elif ch >= " " or ch == "\t":
                self.draft += ch
                self.times = (self.times + [t])[-BURST_CHARS:]
                if len(self.times) == BURST_CHARS and self.times[-1] - self.times[0] <= BURST_WINDOW:
                    self.last_burst = t
        self.pending += tail
        return True

    def answer(self, approved: bool, t: float) -> None:
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"t": t, "approved": approved, "dialog": self.dialog}) + "\n")
        self.transcript.append(f"  dialog {'approved' if approved else 'declined'}: {self.dialog}")
        self.dialog = None
        if approved:
            self.end_turn(t)
        else:
            self.in_turn = False  # declined (Esc): an interrupted turn, no Stop hook (as Claude Code and Codex)

    # ------------------------------------------------------------------ hooks
    def run_hook(self, event: str, data: dict) -> str:
        """termbridge's hook EVENT as this agent's child (what its hooks config would run); its stdout."""
        if not self.hooks:
            return ""
        payload = {"session_id": self.sid, "transcript_path": self.record_path, "cwd": os.getcwd(), **data}
        try:
            p = subprocess.run(
                [sys.executable, "-m", "termbridge", "hook", event, "--agent", self.hooks],
                input=json.dumps(payload),
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return p.stdout

    def _write_record(self, kind: str, text: str) -> None:
        if self.record is not None:  # its own transcript, held open as Codex holds its rollout
            self.record.write(json.dumps({"type": kind, "text": text}) + "\n")
            self.record.flush()

    def start_turn(self, text: str, t: float, secs: float) -> None:
        self.turn_text, self.in_turn = text, True
        if secs > 0:
            self.busy_started, self.busy_until = t, t + secs
        else:
            self.end_turn(t)

    def end_turn(self, t: float) -> None:
        """The turn is over: its reply, then the Stop hook (which may hand messages over: the turn goes on)."""
        self.in_turn = False
        if not self.hooks:
            return
        reply = reply_to(self.turn_text)
        self.transcript.append(f"  agent: {reply}")
        self._write_record("assistant", reply)
        key = "prompt_response" if self.hooks == "gemini" else "last_assistant_message"
        event = "AfterAgent" if self.hooks == "gemini" else "Stop"
        out = self.run_hook("stop", {"hook_event_name": event, "stop_hook_active": self.continued, key: reply})
        try:
            answer = json.loads(out) if out.strip() else {}
        except ValueError:
            answer = {}
        if isinstance(answer, dict) and answer.get("decision") in ("block", "deny") and answer.get("reason"):
            reason = str(answer["reason"])
            self.transcript.append(f"  stop hook: {reason.splitlines()[0]}")
            self._write_record("user", reason)
            self.continued = True
            self.start_turn(reason, t, self.work)
        else:
            self.continued = False

    def submit(self, t: float) -> bool:
        text, self.draft = self.draft, ""
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"t": t, "text": text}) + "\n")
        self._write_record("user", text)
        event = "BeforeAgent" if self.hooks == "gemini" else "UserPromptSubmit"
        self.run_hook("prompt-submit", {"hook_event_name": event, "prompt": text})
        self.continued = False
        first = text.split("\n")[0]
        self.transcript.append(f"you: {first}" + (f"  (+{text.count(chr(10))} more lines)" if "\n" in text else ""))
        if text.strip() == "/quit":
            return False
        if text.strip() == "/dialog":
            self.dialog = "touch /tmp/approved-by-termbridge"
            self.turn_text, self.in_turn = text, True  # the turn waits for the person's answer
            return True
        secs = self.work
        if text.startswith("/busy"):
            try:
                secs = float(text.split()[1])
            except (IndexError, ValueError):
                secs = 3.0
        self.start_turn(text, t, secs)
        return True

    # ------------------------------------------------------------------ output
    def tick(self, t: float) -> None:
        if t < self.busy_until and t - self.last_step >= 0.25:
            self.last_step = t
            self.transcript.append(f"  working... step {int((t - self.busy_started) / 0.25)}")
        elif self.in_turn and self.dialog is None and t >= self.busy_until:
            self.end_turn(t)

    def draw(self, t: float) -> None:
        rows, cols = _size()
        busy = t < self.busy_until
        lines = [f"{self.title} (demo agent; submissions are logged)"[:cols]]
        draft_lines = self.draft.split("\n")
        tail = []
        if busy:
            tail.append(f"• Working ({int(t - self.busy_started)}s • esc to interrupt)")
        composer_at = len(tail)
        if self.dialog is not None:
            tail = [
                "Would you like to run the following command?",
                "",
                f"  $ {self.dialog}",
                "",
                "› 1. Yes, proceed (y)",
                "  2. No, and tell the agent what to do differently (esc)",
                "",
                "  Press enter to confirm or esc to cancel",
            ]
            composer_at = 4
        elif self.draft:
            tail.append("› " + draft_lines[0])
            tail.extend("  " + line for line in draft_lines[1:])
        else:
            tail.append("› \x1b[2m" + PLACEHOLDER + "\x1b[0m")
        if not self.draft and not busy and self.dialog is None:
            tail.append("  ? for shortcuts")
        room = max(rows - len(lines) - len(tail) - 1, 0)
        lines += [line[:cols] for line in self.transcript[-room:]] if room else []
        lines.append("")
        top = len(lines)
        lines += tail
        cur_row = top + composer_at + (len(draft_lines) - 1 if self.draft else 0) + 1
        cur_col = 2 + (len(draft_lines[-1]) if self.draft else 0) + 1
        frame = "\x1b[H\x1b[2J" + "\r\n".join(lines) + f"\x1b[{cur_row};{cur_col}H"
        if frame != getattr(self, "_last_frame", None):
            self._last_frame = frame
            sys.stdout.write(frame)
            sys.stdout.flush()


def _size() -> tuple[int, int]:
    try:
        sz = os.get_terminal_size(sys.stdout.fileno())
        return sz.lines, sz.columns
    except OSError:
        return 24, 80


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="termbridge-demo-agent")
    ap.add_argument("--log", required=True, help="append each submission here as a JSON line")
    ap.add_argument("--title", default="demo-agent")
    ap.add_argument("--work", type=float, default=0.0, help="seconds of busy work after each submission")
    ap.add_argument("--swallow", type=int, default=0, help="drop the first N submitting Enters (-1: all)")
    ap.add_argument(
        "--record", help="also write each submission to this transcript, held open (as Codex holds its rollout)"
    )
    ap.add_argument("--hooks", choices=["claude", "codex", "gemini"], help="run termbridge's hooks as this agent does")
    args = ap.parse_args(argv)
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd) if os.isatty(fd) else None
    if old:
        tty.setraw(fd)
    sys.stdout.write("\x1b[?2004h")  # ask for bracketed paste, as the real TUIs do
    agent = Agent(args.log, args.title, args.work, args.swallow, args.record, args.hooks)
    try:
        agent.draw(time.monotonic())
        event = "SessionStart"
        agent.run_hook("session-start", {"hook_event_name": event, "source": "startup"})
        while True:
            r, _, _ = select.select([fd], [], [], 0.1)
            t = time.monotonic()
            if r:
                data = os.read(fd, 65536)
                if not data or not agent.feed(data, t):
                    break
            agent.tick(t)
            agent.draw(t)
    finally:
        sys.stdout.write("\x1b[?2004l\r\n")
        sys.stdout.flush()
        if old:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
    return 0


if __name__ == "__main__":
    sys.exit(main())
