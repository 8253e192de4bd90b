"""The at-least-once window: a drain SIGKILLed after its Enter landed and before it recorded the
delivery. How often is the message delivered twice?

  python bench/at_least_once.py [--trials N]

Two demo agents (the raw-mode TUI with Codex's Enter rule) on a private tmux server, side by side
in one run:

  no record    nothing of the agent's own proves what it received: the next drain cannot tell
               that the killed drain's text arrived, so it delivers it again (0.2 did this for
               every agent whose transcript it could not attribute)
  own record   the agent holds its own transcript open, as Codex holds its rollout: the next
               drain finds the killed drain's message in that session's own record and counts
               it delivered

Each trial: `send --no-wake`, `drain` in a subprocess, SIGKILL the moment the agent logged the
submission (the Enter landed; the drain is still confirming), then a complete `drain`. A trial
counts only when the kill landed inside the window (the killed drain had not recorded it).
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PY, TB, machine, private_env  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    d, env = private_env()
    sock = str(d / "tmux.sock")
    env["TERMBRIDGE_TMUX_SOCKET"] = sock
    tmux = ["tmux", "-S", sock]
    subprocess.run([*tmux, "-f", "/dev/null", "new-session", "-d", "-s", "b", "-x", "160", "-y", "45", "sleep 1e6"])
    agents = {}
    try:
        for name, with_record in (("plain", False), ("recorded", True)):
            home = d / f"{name}-home"
            log = d / f"{name}.log"
            extra = ""
            if with_record:
                rec = home / ".codex/sessions/2026/12/01" / f"rollout-2026-12-01T00-00-00-{uuid.uuid4()}.jsonl"
                rec.parent.mkdir(parents=True)
                extra = f" --record {shlex.quote(str(rec))}"
            cmd = (
                f"exec env HOME={home} CODEX_HOME={home}/.codex {shlex.quote(PY)} -m termbridge.demo_agent "
                f"--log {shlex.quote(str(log))}{extra}"
            )
            pane = subprocess.run(
                [*tmux, "new-window", "-P", "-F", "#{pane_pid}", cmd], capture_output=True, text=True
            ).stdout.strip()
            time.sleep(1.0)
            kids = subprocess.run(["pgrep", "-P", pane], capture_output=True, text=True).stdout.split()
            pid = int(kids[-1]) if kids else int(pane)
            subprocess.run([*TB, "register", name, "--pid", str(pid), "--kind", "codex"], env=env, check=True)
            agents[name] = log
        print(f"# {machine()}")
        print(f"{'agent':10} {'trials in the window':>22} {'delivered twice':>16} {'lost':>5}")
        for name, log in agents.items():
            in_window = twice = lost = 0
            for _ in range(args.trials):
                mid = json.loads(
                    subprocess.run(
                        [*TB, "send", name, f"trial {time.time_ns()}", "--no-wake", "--json"],
                        env=env,
                        capture_output=True,
                        text=True,
                    ).stdout
                )["id"]
                seen_before = log.read_text().count(mid) if log.exists() else 0
                drain = subprocess.Popen([*TB, "drain", name], env=env, stderr=subprocess.DEVNULL)
                end = time.monotonic() + 10
                while time.monotonic() < end and (log.read_text().count(mid) if log.exists() else 0) == seen_before:
                    time.sleep(0.002)
                drain.send_signal(signal.SIGKILL)
                drain.wait()
                receipt = json.loads(
                    subprocess.run([*TB, "receipt", mid, "--json"], env=env, capture_output=True, text=True).stdout
                )
                if receipt["state"] != "queued":
                    continue  # the drain had recorded it: outside the window
                in_window += 1
                for _ in range(5):  # the complete drain (the agent may still be drawing)
                    if subprocess.run([*TB, "drain", name], env=env, capture_output=True).returncode == 0:
                        break
                    time.sleep(0.3)
                time.sleep(0.3)
                n = log.read_text().count(mid)
                twice += n > 1
                lost += n == 0
            print(f"{name:10} {in_window:>22} {twice:>16} {lost:>5}")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        import shutil

        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
