"""Waiting in kitty, side by side in one run: N busy demo agents in N tabs of one real kitty
(under Xvfb) and one more idle agent (the probe), one message queued for each busy one, CPU
measured from /proc over WINDOW seconds:

  python bench/kitty_waiting.py [--agents 20] [--window 15]

  now      the one kitty watcher `send` started (watcher.KittyWatcher)
  before   N per-session idle waiters, as before (session_waiter.py, started directly)

Each figure is the waiting processes' own time (and their reaped children's) plus kitty's time
above its own with nobody waiting (kitty renders the agents' output either way: that part is
not ours, and is noisy). Then idle -> delivered for the probe (works 2 s, a message is sent
meanwhile; from the moment it went idle, its own clock, to its logged submission) while the
watcher serves the N waiting sessions too.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from common import PY, TB, cpu_window, machine, wait  # noqa: E402
from kittylab import KittyLab  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--window", type=float, default=15.0)
    args = ap.parse_args()
    n = args.agents
    d = Path(tempfile.mkdtemp(prefix="tbk", dir="/tmp"))
    env = dict(os.environ, TERMBRIDGE_HOME=str(d / "home"), TERMBRIDGE_CONFIG=str(d / "no-config.yaml"))
    logs = [d / f"a{i}.log" for i in range(n)]
    k = KittyLab(d, [PY, "-m", "termbridge.demo_agent", "--log", str(logs[0])])
    env["TERMBRIDGE_KITTY_SOCKET"] = k.address
    os.environ.update(TERMBRIDGE_HOME=env["TERMBRIDGE_HOME"], TERMBRIDGE_CONFIG=env["TERMBRIDGE_CONFIG"])
    from termbridge import session_waiter, watcher

    home, key = Path(env["TERMBRIDGE_HOME"]), watcher.kitty_key(k.address)
    try:

        def tab(log: Path) -> int:  # a tab each: N windows in one tab would be a few cells wide
            argv = [PY, "-m", "termbridge.demo_agent", "--log", str(log)]
            return int(k.client.command("launch", {"args": argv, "type": "tab", "keep_focus": True}))

        for i in range(1, n):
            tab(logs[i])
        probe_log = d / "probe.log"
        probe_id = tab(probe_log)
        wait(lambda: len(k.windows()) == n + 1, 30 + n)
        probe = next(w for w in k.windows() if w["id"] == probe_id)
        wins = [w for w in k.windows() if w["id"] != probe_id]
        for i, w in enumerate(wins):
            wait(lambda w=w: "›" in k.client.get_text(w["id"]), 15)
            reg = [*TB, "register", f"a{i}", "--pid", str(w["pid"]), "--kind", "codex"]
            subprocess.run(reg, env=env, check=True, capture_output=True)
        wait(lambda: "›" in k.client.get_text(probe["id"]), 15)
        reg = [*TB, "register", "probe", "--pid", str(probe["pid"]), "--kind", "codex"]
        subprocess.run(reg, env=env, check=True, capture_output=True)
        for w in wins:
            k.client.send_text(w["id"], "/busy 3600")
        time.sleep(0.4)
        for w in wins:
            k.client.press_enter(w["id"])
        time.sleep(2.0)
        print(f"kitty waiting benchmark ({machine()}), {n} busy demo agents in one kitty, {args.window:g} s windows")
        _, base = cpu_window(lambda: [], k.proc.pid, args.window)
        print(f"  kitty with nobody waiting: {base:.2f}% of one core (rendering the agents' output)")

        for i in range(n):
            subprocess.run([*TB, "send", f"a{i}", f"queued {i}"], env=env, capture_output=True, check=True)
        w = wait(lambda: watcher.live_watcher(home, key), 10)
        time.sleep(2.0)
        own, kit = cpu_window(lambda: [w["pid"]], k.proc.pid, args.window)
        print(
            f"  now: 1 kitty watcher        {own:6.2f}% + kitty extra {kit - base:6.2f}% "
            f"= {own + max(kit - base, 0):6.2f}%"
        )

        os.kill(w["pid"], signal.SIGKILL)  # the marks stay; the per-session waiters ignore them
        for i in range(n):
            session_waiter.start_waiter(home, f"a{i}")

        def waiters() -> list[int]:
            return [x["pid"] for i in range(n) if (x := session_waiter.live_waiter(home, f"a{i}"))]

        wait(lambda: len(waiters()) == n, 20)
        time.sleep(2.0)
        own_b, kit_b = cpu_window(waiters, k.proc.pid, args.window)
        before = own_b + max(kit_b - base, 0)
        print(f"  before: {n} session waiters  {own_b:6.2f}% + kitty extra {kit_b - base:6.2f}% = {before:6.2f}%")
        for p in waiters():
            os.kill(p, signal.SIGKILL)

        # idle -> delivered, while the watcher serves the N others (their marks are still there)
        def entries() -> list[dict]:
            return [json.loads(x) for x in probe_log.read_text().splitlines()] if probe_log.exists() else []

        lat = []
        for r in range(5):
            m = len(entries())
            # through `submit` (it waits for the delivery lock), as bench/scale.py does
            subprocess.run([*TB, "submit", "probe", "/busy 2"], env=env, check=True, capture_output=True)
            wait(lambda m=m: len(entries()) > m)
            busy_t = entries()[m]["t"]
            subprocess.run([*TB, "send", "probe", f"sent while busy {r}"], env=env, check=True, capture_output=True)
            wait(lambda m=m: len(entries()) > m + 1, 30)
            lat.append((entries()[m + 1]["t"] - (busy_t + 2.0)) * 1000)
            wait(lambda: "? for shortcuts" in k.client.get_text(probe["id"]))
        served = len(watcher.marked(home, key))
        print(
            f"  idle -> delivered, the watcher serving {served} sessions: median {statistics.median(lat):.0f} ms "
            f"(min {min(lat):.0f}, max {max(lat):.0f}; {len(lat)} runs)"
        )
    finally:
        k.close()


if __name__ == "__main__":
    main()
