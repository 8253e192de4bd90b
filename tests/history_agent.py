"""The demo agent with a Codex-like history: a submission stays on screen as `› TEXT` (shaped like the
composer), and while it works the agent shows `• Working (…)` below it and no composer at all.

    python tests/history_agent.py --log FILE [--work SECONDS]

So right after a submission the last composer-shaped line holds the submitted text: the
screen termbridge must read as `working`, never as its own unsubmitted text (an Enter
there would go into the turn). Each submission is logged as the demo agent logs it (an
Enter pressed while it works is logged too, as an empty submission).
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import termios
import time
import tty

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from termbridge import demo_agent  # noqa: E402


class HistoryAgent(demo_agent.Agent):
    def submit(self, t: float) -> bool:
        text = self.draft
        ok = super().submit(t)
        lines = text.split("\n")
        self.transcript[-1] = "› " + lines[0]  # instead of "you: …": the composer's own shape
        self.transcript.extend("  " + line for line in lines[1:])
        return ok

    def tick(self, t: float) -> None:
        pass  # no output lines while working: the submitted line stays right above the marker

    def draw(self, t: float) -> None:
        if t >= self.busy_until or self.dialog is not None:
            super().draw(t)
            return
        rows, cols = demo_agent._size()
        tail = ["", f"• Working ({int(t - self.busy_started)}s • esc to interrupt)"]
        room = max(rows - len(tail) - 2, 0)
        wrapped = [ln[k : k + cols] or "" for ln in self.transcript for k in range(0, max(len(ln), 1), cols)]
        lines = [f"{self.title} (history agent)"[:cols]] + wrapped[-room:] + tail
        frame = "\x1b[H\x1b[2J" + "\r\n".join(lines) + f"\x1b[{len(lines)};1H"
        if frame != getattr(self, "_last_frame", None):
            self._last_frame = frame
            sys.stdout.write(frame)
            sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--work", type=float, default=5.0)
    args = ap.parse_args()
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    tty.setraw(fd)
    sys.stdout.write("\x1b[?2004h")
    agent = HistoryAgent(args.log, "history-agent", args.work)
    try:
        while True:
            r, _, _ = select.select([fd], [], [], 0.1)
            t = time.monotonic()
            if r:
                data = os.read(fd, 65536)
                if not data or not agent.feed(data, t):
                    break
            agent.draw(t)
    finally:
        sys.stdout.write("\x1b[?2004l\r\n")
        sys.stdout.flush()
        termios.tcsetattr(fd, termios.TCSADRAIN, old)
    return 0


if __name__ == "__main__":
    sys.exit(main())
