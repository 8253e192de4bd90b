"""Confirmed delivery and the idle waiter, measured on a private tmux server with the raw-mode demo agent.

  python bench/delivery.py [--runs N]

1. submit of one line into an idle agent, paired run by run (A B A B ...):
     0.2  termbridge's submit: surface read, paste, gap, Enter, confirmation on screen
     0.1  the 0.1 path: paste, gap, Enter, no look before or after (submit.deliver_text)
   in-process (no interpreter start), and the 0.2 CLI beside a bare `tmux send-keys` (which
   does not even submit: its Enter lands in the paste burst).
2. idle -> delivery: the agent works 2 s; a message is sent meanwhile; the time from the
   moment the agent went idle (its own clock) to the moment it logged the framed submission.
3. the idle waiter's CPU while the agent works for 10 s (utime+stime from /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PY, TB, machine, private_env  # noqa: E402


def wait(fn, seconds=20.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {fn}")


class Lab:
    def __init__(self, d: Path, env: dict):
        self.d, self.env, self.sock = d, env, str(d / "tmux.sock")
        env["TERMBRIDGE_TMUX_SOCKET"] = self.sock
        self.log = d / "agent.log"
        cmd = f"exec {shlex.quote(PY)} -m termbridge.demo_agent --log {shlex.quote(str(self.log))}"
        self.tmux("new-session", "-d", "-s", "b", "-x", "160", "-y", "45", cmd)
        self.pane = self.tmux("display-message", "-p", "-t", "b", "#{pane_id}").strip()
        wait(lambda: "›" in self.tmux("capture-pane", "-p", "-t", self.pane))
        pid = int(self.tmux("display-message", "-p", "-t", self.pane, "#{pane_pid}").strip())
        subprocess.run(
            [*TB, "register", "a", "--pid", str(pid), "--kind", "codex"], env=env, check=True, capture_output=True
        )

    def tmux(self, *args):
        return subprocess.run(
            ["tmux", "-S", self.sock, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=10
        ).stdout

    def entries(self):
        return [json.loads(x) for x in self.log.read_text().splitlines()] if self.log.exists() else []

    def settle(self, n):
        wait(lambda: len(self.entries()) >= n)
        wait(lambda: "? for shortcuts" in self.tmux("capture-pane", "-p", "-t", self.pane))

    def kill(self):
        self.tmux("kill-server")


def bench_submit(lab: Lab, runs: int) -> None:
    os.environ.update(lab.env)
    from termbridge import registry, submit, targets
    from termbridge.config import load_config
    from termbridge.paths import state_home

    home = state_home()
    gap = load_config()["gap_ms"]
    a, b = [], []
    n = len(lab.entries())
    for i in range(runs):
        t = time.perf_counter()
        res = submit.submit_text(home, "a", f"v02 line {i}")
        a.append((time.perf_counter() - t) * 1000)
        assert res.result["submitted"], res.result
        n += 1
        lab.settle(n)
        t = time.perf_counter()
        sess = registry.lookup(home, "a")
        tgt = targets.resolve_session(home, sess)
        submit.deliver_text(tgt, f"v01 line {i}", True, gap, submit.target_tty(sess, tgt))
        b.append((time.perf_counter() - t) * 1000)
        n += 1
        lab.settle(n)
    ratios = sorted(x / y for x, y in zip(a, b, strict=True))
    print(f"submit one line, in-process, {runs} pairs (median / min / max ms):")
    print(f"  0.2 confirmed submit      {statistics.median(a):7.1f} {min(a):7.1f} {max(a):7.1f}")
    print(f"  0.1 paste+gap+Enter       {statistics.median(b):7.1f} {min(b):7.1f} {max(b):7.1f}")
    print(f"  ratio 0.2/0.1 (paired)    {statistics.median(ratios):7.2f} {ratios[0]:7.2f} {ratios[-1]:7.2f}")
    cli, bare = [], []
    for i in range(runs):
        t = time.perf_counter()
        subprocess.run([*TB, "submit", "a", f"cli line {i}"], env=lab.env, check=True, capture_output=True)
        cli.append((time.perf_counter() - t) * 1000)
        n += 1
        lab.settle(n)
        t = time.perf_counter()
        lab.tmux("send-keys", "-t", lab.pane, "-l", f"bare {i}")
        lab.tmux("send-keys", "-t", lab.pane, "Enter")
        bare.append((time.perf_counter() - t) * 1000)
        time.sleep(0.3)
        lab.tmux("send-keys", "-t", lab.pane, "C-u")
        wait(lambda: "? for shortcuts" in lab.tmux("capture-pane", "-p", "-t", lab.pane))
    print(
        f"  0.2 `termbridge submit`   {statistics.median(cli):7.1f} {min(cli):7.1f} {max(cli):7.1f}"
        "   (CLI, whole process)"
    )
    print(
        f"  bare tmux send-keys       {statistics.median(bare):7.1f} {min(bare):7.1f} {max(bare):7.1f}   "
        f"(submitted {len(lab.entries()) - n} of {runs}: its Enter lands in the paste burst)"
    )


def bench_idle_to_delivery(lab: Lab, runs: int) -> None:
    lat = []
    for i in range(runs):
        n = len(lab.entries())
        subprocess.run([*TB, "submit", "a", "/busy 2"], env=lab.env, check=True, capture_output=True)
        wait(lambda n=n: len(lab.entries()) > n)
        busy_t = lab.entries()[n]["t"]
        subprocess.run([*TB, "send", "a", f"sent while busy {i}"], env=lab.env, check=True, capture_output=True)
        wait(lambda n=n: len(lab.entries()) > n + 1, 30)
        lat.append((lab.entries()[n + 1]["t"] - (busy_t + 2.0)) * 1000)
        lab.settle(n + 2)
    print(
        f"\nidle -> delivered by the idle waiter, {runs} runs (median / min / max ms): "
        f"{statistics.median(lat):.0f} {min(lat):.0f} {max(lat):.0f}"
    )
    print("  (one debounce window is 1000 ms and one idle sample 350 ms: the contract's bound is about their sum)")


def bench_waiter_cpu(lab: Lab) -> None:
    n = len(lab.entries())
    subprocess.run([*TB, "submit", "a", "/busy 14"], env=lab.env, check=True, capture_output=True)
    wait(lambda: len(lab.entries()) > n)
    subprocess.run([*TB, "send", "a", "cpu probe"], env=lab.env, check=True, capture_output=True)
    home = Path(lab.env["TERMBRIDGE_HOME"])
    from termbridge import waiter

    info = wait(lambda: waiter.live_waiter(home, "a"), 10)  # the tmux server's watcher (bench/scale.py: at 50)
    pid, hz = info["pid"], os.sysconf("SC_CLK_TCK")

    def ticks():
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])

    def child_ticks():  # the tmux clients it ran (reaped children)
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(f[13]) + int(f[14])

    time.sleep(1.0)
    t0, c0, w0 = ticks(), child_ticks(), time.monotonic()
    time.sleep(10.0)
    t1, c1, w1 = ticks(), child_ticks(), time.monotonic()
    own = (t1 - t0) / hz / (w1 - w0) * 100
    kids = (c1 - c0) / hz / (w1 - w0) * 100
    print(
        f"\nidle waiter while the agent works, 10 s: {own:.2f}% of a core itself, {kids:.2f}% in the tmux "
        f"clients it runs (one screen sample per 0.5 s)"
    )
    lab.settle(n + 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    print(f"# {machine()}")
    d, env = private_env()
    lab = Lab(d, env)
    try:
        bench_submit(lab, args.runs)
        bench_idle_to_delivery(lab, max(3, args.runs // 3))
        bench_waiter_cpu(lab)
    finally:
        lab.kill()


if __name__ == "__main__":
    main()
