"""Agents on other machines, measured against a real sshd on 127.0.0.1 (tests/ssh_lab.py: a second
user, its own host key; needs root): a bare `ssh HOST true` against a cold and a warm rpc round
trip; a warm `send NAME@HOST` (its return, and until HOST has it) against a local `send`; N sends
across two sshd restarts (lost, duplicated, order); the time from sshd back up to the queue drained.
Loopback only: a real network adds its round trips to every remote figure.

Run: sudo .venv/bin/python bench/remote.py [N]   (N: sends across the restarts, default 300)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "tests"))
from common import PY, machine, private_env  # noqa: E402
from ssh_lab import HOST, RemoteInstall, Sshd, ensure_user, why_not, write_config  # noqa: E402

TB = [PY, "-m", "termbridge"]


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def med(xs: list[float]) -> str:
    return f"{statistics.median(xs):.0f} ms (min {min(xs):.0f}, max {max(xs):.0f}, n={len(xs)})"


def remote_ids(install: RemoteInstall, name: str) -> list[str]:
    """Every id NAME's outbox on the far side holds (read as root, straight from the file)."""
    path = install.state / "sessions" / name / "pending.log"
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(json.loads(line)["id"])
        except (ValueError, KeyError):
            pass
    return out


def main() -> None:
    n_restart = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    why = why_not()
    if why:
        sys.exit(f"bench/remote.py: {why}")
    d, env = private_env()
    os.environ.update(env)
    install = RemoteInstall(ensure_user())
    sshd = Sshd(install)
    sleeper = install.as_user("sh", "-c", "sleep 3600 >/dev/null 2>&1 & echo $!").stdout.decode().strip()
    try:
        write_config(Path(env["TERMBRIDGE_CONFIG"]), {HOST: sshd.client_config()})
        install.termbridge("register", "sink", "--pid", sleeper, "--kind", "other")  # no target: messages stay queued
        from termbridge import forward, paths, ssh
        from termbridge.config import load_config

        home = paths.state_home()
        hc = ssh.host_config(HOST, load_config())
        print(f"# bench/remote.py — {machine()}; sshd on 127.0.0.1, {ssh.__name__} args as termbridge runs them")

        bare = [
            timed(lambda: subprocess.run(["ssh", "-F", str(sshd.ssh_config), HOST, "true"], check=True))
            for _ in range(10)
        ]
        print(f"bare `ssh HOST true` (new connection each):     {med(bare)}")
        cold, warm = [], []
        for _ in range(10):
            ssh.drop_master(home, hc)
            cold.append(timed(lambda: ssh.probe(home, hc)))
            warm.append(timed(lambda: ssh.probe(home, hc)))
        print(f"rpc hello, cold (connect + remote termbridge):  {med(cold)}")
        print(f"rpc hello, warm (shared connection):            {med(warm)}")

        # Local send, for scale: a session here with no target (the send commits, the attempt finds none).
        local_pid = subprocess.Popen(["sleep", "600"], start_new_session=True)
        subprocess.run([*TB, "register", "here", "--pid", str(local_pid.pid)], check=True, capture_output=True)
        local = [
            timed(lambda: subprocess.run([*TB, "send", "here", "x", "--no-wake"], check=True, capture_output=True))
            for _ in range(20)
        ]
        local_pid.kill()
        print(f"local `send NAME` (--no-wake):                  {med(local)}")
        q = forward.ForwardQueue(home, HOST)
        ret, until_there = [], []
        for i in range(20):
            t0 = time.perf_counter()
            p = subprocess.run([*TB, "send", f"sink@{HOST}", f"warm {i}"], check=True, capture_output=True)
            ret.append((time.perf_counter() - t0) * 1000)
            msg_id = p.stdout.decode().strip()
            while msg_id not in remote_ids(install, "sink"):
                time.sleep(0.002)
            until_there.append((time.perf_counter() - t0) * 1000)
            while forward.live_forwarder(home, HOST):  # one forwarder at a time: measure each send alone
                time.sleep(0.01)
        print(f"warm `send NAME@HOST`, returns:                 {med(ret)}")
        print(f"warm `send NAME@HOST`, until HOST's outbox has it: {med(until_there)}")

        # N sends across two sshd restarts.
        sent: list[str] = []
        before = set(remote_ids(install, "sink"))
        for i in range(n_restart):
            if i in (n_restart // 3, 2 * n_restart // 3):
                sshd.stop()
            if i in (n_restart // 3 + n_restart // 6, 2 * n_restart // 3 + n_restart // 6):
                sshd.start()
            p = subprocess.run([*TB, "send", f"sink@{HOST}", f"restart {i}"], check=True, capture_output=True)
            sent.append(p.stdout.decode().strip())
        t_end = time.perf_counter()
        deadline = time.monotonic() + 300
        while q.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        t_drained = time.perf_counter()
        got = [i for i in remote_ids(install, "sink") if i not in before]
        lost = len(set(sent) - set(got))
        dup = len(got) - len(set(got))
        in_order = [i for i in got if i in set(sent)] == sent
        print(
            f"{n_restart} sends across two sshd restarts: lost {lost}, duplicated {dup}, in order: {in_order}; "
            f"queue drained {(t_drained - t_end) * 1000:.0f} ms after the last send"
        )

        # From sshd back up to the queue drained: stop, queue 50, start, time until empty.
        sshd.stop()
        for i in range(50):
            subprocess.run([*TB, "send", f"sink@{HOST}", f"backlog {i}"], check=True, capture_output=True)
        time.sleep(2)  # let the forwarder's back-off reach its cap (backoff_max_ms 1000 here)
        sshd.start()
        t_up = time.perf_counter()
        while q.pending():
            time.sleep(0.01)
        print(
            f"sshd back up -> 50 queued messages all forwarded: {(time.perf_counter() - t_up) * 1000:.0f} ms "
            "(back-off here: backoff_base_ms 200, backoff_max_ms 1000; the default cap is 300 s)"
        )
    finally:
        for qq in forward.all_queues(paths.state_home()):
            live = forward.live_forwarder(paths.state_home(), qq.host)
            if live:
                os.kill(live["pid"], 9)
        sshd.close()
        install.close()
        subprocess.run(["rm", "-rf", str(d)])


if __name__ == "__main__":
    main()
