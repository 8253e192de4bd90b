"""`termbridge top` and the tmux status line, on a private tmux server with 20 live sessions
(the raw-mode demo agent in 20 panes, registered as codex), measured side by side:

  python bench/top.py [--seconds S] [--runs N]

1. top's CPU while it runs in a pane of that server (utime+stime from /proc over S seconds:
   its own, the tmux clients it ran, and what the tmux server spent beyond a window without
   top), at the default screen interval (3 s) and at 1 s.
2. one refresh in-process (glance.collect_rows): files only, and files + 20 screens.
3. `termbridge statusline pending PANE_PID` and `statusline attention` (one session with
   messages waiting; then 5, whose screens it reads) against a bare `tmux display -p x` and a
   bare interpreter.
"""

from __future__ import annotations

import argparse
import functools
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PY, TB, machine, median_ms, private_env, run  # noqa: E402
from common import wait as common_wait  # noqa: E402

SESSIONS = 20


# common.wait, polling at 20 Hz: a bench that measures CPU should not poll much itself.
wait = functools.partial(common_wait, step=0.05)


def ticks(pid: int, children: bool = False) -> int:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[13]) + int(f[14]) if children else int(f[11]) + int(f[12])


class Lab:
    def __init__(self, d: Path, env: dict):
        self.d, self.env, self.sock = d, env, str(d / "tmux.sock")
        env["TERMBRIDGE_TMUX_SOCKET"] = self.sock
        self.panes: list[tuple[str, int]] = []
        for i in range(SESSIONS):
            log = d / f"agent{i}.log"
            cmd = f"exec {shlex.quote(PY)} -m termbridge.demo_agent --log {shlex.quote(str(log))} --title a{i}"
            if i == 0:
                self.tmux("new-session", "-d", "-s", "b", "-x", "160", "-y", "45", cmd)
            else:
                self.tmux("new-window", "-d", "-t", "b:", cmd)
        for line in self.tmux("list-panes", "-a", "-F", "#{pane_id} #{pane_pid}").split("\n"):
            if line.strip():
                pane, pid = line.split()
                self.panes.append((pane, int(pid)))
        for pane, _ in self.panes:
            wait(lambda pane=pane: "›" in self.tmux("capture-pane", "-p", "-t", pane))
        for i, (_, pid) in enumerate(self.panes):
            run([*TB, "register", f"s{i:02}", "--pid", str(pid), "--kind", "codex"], env=env)
        self.server_pid = int(self.tmux("display-message", "-p", "#{pid}").strip())

    def tmux(self, *args):
        return subprocess.run(
            ["tmux", "-S", self.sock, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=10
        ).stdout

    def kill(self):
        self.tmux("kill-server")


def server_cpu(lab: Lab, seconds: float) -> float:
    hz = os.sysconf("SC_CLK_TCK")
    t0, w0 = ticks(lab.server_pid), time.monotonic()
    time.sleep(seconds)
    return (ticks(lab.server_pid) - t0) / hz / (time.monotonic() - w0) * 100


def bench_top_cpu(lab: Lab, interval: float, seconds: float) -> None:
    hz = os.sysconf("SC_CLK_TCK")
    base = server_cpu(lab, seconds / 2)
    cmd = f"exec env {env_prefix(lab.env)} {' '.join(map(shlex.quote, TB))} top --interval {interval}"
    lab.tmux("new-window", "-d", "-t", "b:", "-n", "top", cmd)
    pane = lab.tmux("display-message", "-p", "-t", "b:top", "#{pane_id}").strip()
    wait(lambda: f"{SESSIONS} session(s)" in lab.tmux("capture-pane", "-p", "-t", pane))
    pid = int(lab.tmux("display-message", "-p", "-t", pane, "#{pane_pid}").strip())
    time.sleep(interval + 1)  # past start-up and the first reads
    t0, c0, s0, w0 = ticks(pid), ticks(pid, True), ticks(lab.server_pid), time.monotonic()
    time.sleep(seconds)
    t1, c1, s1, w1 = ticks(pid), ticks(pid, True), ticks(lab.server_pid), time.monotonic()
    span = w1 - w0
    own, kids = (t1 - t0) / hz / span * 100, (c1 - c0) / hz / span * 100
    server = (s1 - s0) / hz / span * 100
    print(
        f"top, {SESSIONS} sessions, screens every {interval:g} s, {seconds:g} s: {own:.2f}% of a core itself "
        f"+ {kids:.2f}% in its tmux clients = {own + kids:.2f}%; the tmux server {server:.2f}% "
        f"(without top {base:.2f}%)"
    )
    lab.tmux("send-keys", "-t", pane, "q")
    wait(lambda: "top" not in lab.tmux("list-windows", "-F", "#{window_name}").split())


def env_prefix(env: dict) -> str:
    keys = ("TERMBRIDGE_HOME", "TERMBRIDGE_CONFIG", "TERMBRIDGE_TMUX_SOCKET", "TMUX_TMPDIR")
    return " ".join(f"{k}={shlex.quote(env[k])}" for k in keys)


def bench_refresh(lab: Lab, runs: int) -> None:
    os.environ.update({k: lab.env[k] for k in ("TERMBRIDGE_HOME", "TERMBRIDGE_CONFIG", "TERMBRIDGE_TMUX_SOCKET")})
    os.environ["TMUX_TMPDIR"] = lab.env["TMUX_TMPDIR"]
    from termbridge import glance
    from termbridge.config import load_config
    from termbridge.paths import state_home

    home, cfg = state_home(), load_config()
    files = median_ms(lambda: glance.collect_rows(home, cfg, screens=False), runs)
    screens = median_ms(lambda: glance.collect_rows(home, cfg, screens=True), runs)
    print(f"one refresh in-process, {SESSIONS} sessions: files only {files:.1f} ms, files + screens {screens:.1f} ms")


def bench_statusline(lab: Lab, runs: int) -> None:
    """Paired: each round times every command once, in turn, so a busy moment hits them all."""
    _, pane_pid = lab.panes[0]
    for _ in range(3):
        run([*TB, "send", "s00", "waiting", "--no-wake"], env=lab.env)
    out = subprocess.run([*TB, "statusline", "pending", str(pane_pid)], env=lab.env, capture_output=True, text=True)
    assert out.stdout.strip().endswith("3"), out
    commands = {
        "bare": ["tmux", "-S", lab.sock, "display", "-p", "x"],
        "python": [PY, "-c", "pass"],
        "pending": [*TB, "statusline", "pending", str(pane_pid)],
        "attention": [*TB, "statusline", "attention"],
    }
    quiet = {k: [] for k in commands}
    for _ in range(runs):
        for k, argv in commands.items():
            quiet[k].append(median_ms(lambda argv=argv: run(argv, env=lab.env), 1))
    for i in range(1, 5):
        run([*TB, "send", f"s{i:02}", "waiting", "--no-wake"], env=lab.env)  # 5 sessions wait now
    busy = [median_ms(lambda: run(commands["attention"], env=lab.env), 1) for _ in range(runs)]
    med = {k: statistics.median(v) for k, v in quiet.items()}
    print(
        f"status line (medians of {runs}, paired): `tmux display -p x` {med['bare']:.1f} ms; a bare `python -c pass` "
        f"{med['python']:.1f} ms; `statusline pending` {med['pending']:.1f} ms; `statusline attention` "
        f"{med['attention']:.1f} ms with one session waiting, {statistics.median(busy):.1f} ms with 5 of {SESSIONS} "
        "(their screens read)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    print(f"# {machine()}; termbridge run as {' '.join(TB)}")
    d, env = private_env()
    lab = Lab(d, env)
    try:
        bench_refresh(lab, max(3, args.runs // 3))
        for interval in (3.0, 1.0):  # the default, and a fast one
            bench_top_cpu(lab, interval, args.seconds)
        bench_statusline(lab, args.runs)
    finally:
        lab.kill()


if __name__ == "__main__":
    main()
