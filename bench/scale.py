"""Waiting at scale, side by side in one run, on one private tmux server of N busy demo agents:

  python bench/scale.py [--agents 50] [--window 15] [--runs 10] [--old-tree DIR]

1. `status --json` over N sessions vs over 5 (two state homes, the same server), paired;
   with --old-tree (a checkout of an earlier termbridge, e.g. the main branch before 0.3),
   the same two with that tree's code.
2. CPU while N busy agents each have one message queued, measured from /proc over WINDOW
   seconds: the waiting processes (own time and their reaped children: the tmux clients
   they run) plus the tmux server's time above its own with nobody waiting.
     now      the one server watcher `send` started (watcher.py)
     before   N per-session idle waiters, as before 0.3 (session_waiter.py, started directly)
3. idle -> delivered: one agent works 2 s, a message is sent meanwhile, the time from the
   moment it went idle (its own clock) to the moment it logged the framed submission --
   while the watcher serves the other N-1 waiting sessions too.
4. `send --no-wake` and `send` to a busy session vs `python -c pass`, paired run by run.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PY, TB, cpu_window, machine, private_env  # noqa: E402
from common import wait as common_wait  # noqa: E402

# common.wait, polling at 20 Hz: a bench that measures CPU should not poll much itself.
wait = functools.partial(common_wait, step=0.05)


class Farm:
    """N demo agents in N windows of one private tmux server."""

    def __init__(self, d: Path, env: dict, n: int):
        self.d, self.env, self.sock = d, env, str(d / "tmux.sock")
        env["TERMBRIDGE_TMUX_SOCKET"] = self.sock
        self.panes, self.logs = [], []
        for i in range(n):
            log = d / f"agent{i + 1}.log"
            cmd = f"exec {shlex.quote(PY)} -m termbridge.demo_agent --log {shlex.quote(str(log))}"
            if i == 0:
                self.tmux("new-session", "-d", "-s", "farm", "-x", "160", "-y", "45", cmd)
                pane = self.tmux("display-message", "-p", "-t", "farm", "#{pane_id}").strip()
            else:
                pane = self.tmux("new-window", "-d", "-P", "-F", "#{pane_id}", "-t", "farm", cmd).strip()
            self.panes.append(pane)
            self.logs.append(log)
        for p in self.panes:
            wait(lambda p=p: "›" in self.screen(p))
        self.server_pid = int(self.tmux("display-message", "-p", "#{pid}").strip())
        self.pids = [self._agent_pid(p) for p in self.panes]

    def tmux(self, *args):
        return subprocess.run(
            ["tmux", "-S", self.sock, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=20
        ).stdout

    def screen(self, pane):
        return self.tmux("capture-pane", "-p", "-t", pane)

    def _agent_pid(self, pane) -> int:
        return int(self.tmux("display-message", "-p", "-t", pane, "#{pane_pid}").strip())

    def register(self, env: dict, count: int) -> None:
        def one(i):
            subprocess.run(
                [*TB, "register", f"a{i + 1}", "--pid", str(self.pids[i]), "--kind", "codex"],
                env=env,
                check=True,
                capture_output=True,
            )

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(count)))

    def busy(self, seconds: float, which: list[int]) -> None:
        """`/busy SECONDS` into the agents WHICH: one paste each, then one Enter each past the paste burst."""
        args: list[str] = []
        for i in which:
            args += ["send-keys", "-t", self.panes[i], "-l", f"/busy {seconds:g}", ";"]
        self.tmux(*args[:-1])
        time.sleep(0.3)
        args = []
        for i in which:
            args += ["send-keys", "-t", self.panes[i], "Enter", ";"]
        self.tmux(*args[:-1])
        for i in which:
            wait(lambda i=i: "esc to interrupt" in self.screen(self.panes[i]))

    def entries(self, i):
        log = self.logs[i]
        return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []

    def kill(self):
        self.tmux("kill-server")


def timed(argv, env) -> float:
    t = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - t) * 1000


def paired(a_argv, a_env, b_argv, b_env, runs: int) -> tuple[list[float], list[float]]:
    timed(a_argv, a_env), timed(b_argv, b_env)  # warm-up
    a, b = [], []
    for _ in range(runs):
        a.append(timed(a_argv, a_env))
        b.append(timed(b_argv, b_env))
    return a, b


def fmt(xs: list[float]) -> str:
    return f"{statistics.median(xs):7.1f} {min(xs):7.1f} {max(xs):7.1f}"


def ratio(a: list[float], b: list[float]) -> str:
    r = sorted(x / y for x, y in zip(a, b, strict=True))
    return f"{statistics.median(r):7.2f} {r[0]:7.2f} {r[-1]:7.2f}"


def bench_status(farm: Farm, env: dict, n: int, runs: int, old_tree: str | None) -> None:
    env5 = dict(env, TERMBRIDGE_HOME=str(farm.d / "home5"))
    farm.register(env5, 5)
    status = [*TB, "status", "--json"]
    print(f"\n1. status --json, {runs} pairs (median / min / max ms)")
    big, small = paired(status, env, status, env5, runs)
    print(f"   {n:>3} sessions            {fmt(big)}")
    print(f"     5 sessions            {fmt(small)}")
    print(f"   ratio {n}/5 (paired)     {ratio(big, small)}   goal <= 2")
    if old_tree:
        old = [PY, "-m", "termbridge", "status", "--json"]
        oenv, oenv5 = dict(env, PYTHONPATH=old_tree), dict(env5, PYTHONPATH=old_tree)
        obig, osmall = paired(old, oenv, old, oenv5, runs)
        print(f"   before ({old_tree}):")
        print(f"   {n:>3} sessions            {fmt(obig)}")
        print(f"     5 sessions            {fmt(osmall)}")
        print(f"   ratio {n}/5 (paired)     {ratio(obig, osmall)}")


def bench_cpu(farm: Farm, env: dict, n: int, seconds: float) -> None:
    home = Path(env["TERMBRIDGE_HOME"])
    os.environ.update(env)
    from termbridge import session_waiter, watcher

    everyone = list(range(n))
    farm.busy(3600, everyone)
    time.sleep(2.0)
    _, base = cpu_window(lambda: [], farm.server_pid, seconds)
    print(f"\n2. CPU while {n} busy agents each have one message queued, {seconds:g} s windows (% of one core)")
    print(f"   tmux server with nobody waiting: {base:.2f}%  (the agents' own output)")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: timed([*TB, "send", f"a{i + 1}", f"queued {i + 1}"], env), everyone))
    w = wait(lambda: watcher.live_watcher(home, farm.sock))
    time.sleep(2.0)
    own, server = cpu_window(lambda: [w["pid"]], farm.server_pid, seconds)
    now = own + max(server - base, 0.0)
    print(f"   now: 1 server watcher          {own:6.2f}% + tmux server extra {server - base:6.2f}% = {now:6.2f}%")

    os.kill(w["pid"], signal.SIGKILL)  # the marks stay; the per-session waiters ignore them
    for i in everyone:
        session_waiter.start_waiter(home, f"a{i + 1}")

    def waiters():
        found = [session_waiter.live_waiter(home, f"a{i + 1}") for i in everyone]
        return [x["pid"] for x in found if x] if all(found) else None

    pids = wait(waiters, 60)
    time.sleep(2.0)
    own, server = cpu_window(lambda: pids, farm.server_pid, seconds)
    before = own + max(server - base, 0.0)
    print(f"   before: {n} per-session waiters {own:6.2f}% + tmux server extra {server - base:6.2f}% = {before:6.2f}%")
    print(f"   now / before: {now / before:.3f}   goal: now <= 5%")
    for p in pids:
        os.kill(p, signal.SIGKILL)


def bench_latency(farm: Farm, env: dict, runs: int) -> None:
    """The last pane's agent, registered as `probe`, while the others wait (a send starts the watcher again)."""
    k = len(farm.panes) - 1
    probe = [*TB, "register", "probe", "--pid", str(farm.pids[k]), "--kind", "codex"]
    subprocess.run(probe, env=env, check=True, capture_output=True)
    lat = []
    for r in range(runs):
        n = len(farm.entries(k))
        # Through `submit` (it waits for the delivery lock): typed past a delivery still confirming
        # its Enter, it would read as a person's draft there and the delivery would be retried.
        subprocess.run([*TB, "submit", "probe", "/busy 2"], env=env, check=True, capture_output=True)
        wait(lambda n=n: len(farm.entries(k)) > n)
        busy_t = farm.entries(k)[n]["t"]
        subprocess.run([*TB, "send", "probe", f"sent while busy {r}"], env=env, check=True, capture_output=True)
        wait(lambda n=n: len(farm.entries(k)) > n + 1, 30)
        lat.append((farm.entries(k)[n + 1]["t"] - (busy_t + 2.0)) * 1000)
        wait(lambda: "? for shortcuts" in farm.screen(farm.panes[k]))
    print(
        f"\n3. idle -> delivered by the watcher while it serves {k} other waiting sessions, "
        f"{runs} runs (median / min / max ms): {fmt(lat)}   (before 0.3: ~900)"
    )


def bench_send(farm: Farm, env: dict, runs: int) -> None:
    """Both from a fresh non-editable venv, as pipx installs it (an editable install adds ~10 ms to every start)."""
    from outbox import installed_venv

    venv = installed_venv(farm.d)
    tb, bare = [str(venv / "bin" / "termbridge")], [str(venv / "bin" / "python"), "-c", "pass"]
    a, b = paired([*tb, "send", "--no-wake", "a2", "x"], env, bare, env, runs)  # a2 waits: busy for an hour
    print(f"\n4. send vs `python -c pass`, installed non-editable, {runs} pairs (median / min / max ms)")
    print(f"   send --no-wake            {fmt(a)}")
    print(f"   python -c pass            {fmt(b)}")
    print(f"   ratio (paired)            {ratio(a, b)}   goal <= 2.5")
    a, b = paired([*tb, "send", "a2", "x"], env, bare, env, runs)
    print(f"   send to a busy session    {fmt(a)}   (its watcher runs: the message is marked for it)")
    print(f"   ratio (paired)            {ratio(a, b)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--window", type=float, default=15.0)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--old-tree", help="an earlier checkout to run `status` from, for comparison")
    args = ap.parse_args()
    print(f"# {machine()}; {args.agents} demo agents (and a probe) on one tmux server")
    d, env = private_env()
    farm = Farm(d, env, args.agents + 1)  # and one more, the latency probe
    try:
        farm.register(env, args.agents)
        bench_status(farm, env, args.agents, args.runs, args.old_tree)
        bench_cpu(farm, env, args.agents, args.window)
        bench_latency(farm, env, max(3, args.runs // 2))
        bench_send(farm, env, args.runs)
    finally:
        farm.kill()


if __name__ == "__main__":
    main()
