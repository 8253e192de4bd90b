"""Outbox figures, side by side in one run: interpreter start vs `termbridge send` (both from a
fresh NON-editable venv, as pipx installs it: an editable install adds ~10 ms to every Python
start), in-process fsync'd enqueues per second, a 10,000-message drain, and peak RSS.
Run: python bench/outbox.py"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import PY, TB, machine, private_env, run  # noqa: E402


def installed_venv(d: Path) -> Path:
    """A fresh venv with termbridge installed from this checkout, not editable."""
    venv = d / "venv"
    subprocess.run([PY, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(Path(__file__).resolve().parent.parent)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return venv


def raw_sync_rate(path: Path, n: int) -> float:
    """Appends per second of a bare O_APPEND write + fdatasync of a record-sized line: the disk's ceiling."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        t = time.perf_counter()
        for _ in range(n):
            os.write(fd, b"x" * 200 + b"\n")
            os.fdatasync(fd)
        return n / (time.perf_counter() - t)
    finally:
        os.close(fd)


def peak_rss_of(argv: list[str], env: dict) -> float:
    """Peak RSS (MB) of one run of ARGV alone, measured by a fresh parent that runs only it."""
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([PY, "-c", code, *argv], env=env, capture_output=True, text=True, check=True).stdout
    return int(out.strip()) / 1024


def paired_ms(a, b, n: int) -> tuple[float, float, float]:
    """Medians of A and B run in turn (A B A B ...), and the median of the pairwise ratios A/B."""
    ta, tb, ratios = [], [], []
    for _ in range(n):
        t = time.perf_counter()
        a()
        ta.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        b()
        tb.append((time.perf_counter() - t) * 1000)
        ratios.append(ta[-1] / tb[-1])
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios)


def main() -> None:
    d, env = private_env()
    os.environ.update(TERMBRIDGE_HOME=env["TERMBRIDGE_HOME"], TERMBRIDGE_CONFIG=env["TERMBRIDGE_CONFIG"])
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        venv = installed_venv(d)
        vpy, vtb = str(venv / "bin" / "python"), str(venv / "bin" / "termbridge")
        run([vtb, "register", "bench", "--pid", str(sleeper.pid)], env=env)
        send, bare, ratio = paired_ms(
            lambda: run([vtb, "send", "bench", "hello", "--no-wake"], env=env), lambda: run([vpy, "-c", "pass"]), 30
        )
        send_rss = peak_rss_of([vtb, "send", "bench", "hello", "--no-wake"], env)

        from termbridge.outbox import Outbox

        box = Outbox(Path(env["TERMBRIDGE_HOME"]), "bench")
        box.claim()  # the 30 sends above: out of the way of the figures below
        n = 3000
        t = time.perf_counter()
        for i in range(n):
            box.append(f"message {i} " + "x" * 100)
        enq = n / (time.perf_counter() - t)
        ceiling = raw_sync_rate(d / "raw.log", n)

        for i in range(10_000 - n - 20):
            box.append(f"filler {i} " + "y" * 100)
        t = time.perf_counter()
        with open(os.devnull, "w") as devnull:
            subprocess.run([*TB, "drain", "bench", "--print"], env=env, stdout=devnull, check=True)
        drain_cli = time.perf_counter() - t
        for i in range(10_000):
            box.append(f"for rss {i}")
        drain_rss = peak_rss_of([*TB, "drain", "bench", "--print"], env)
        drained = 10_000
        assert box.stats()["pending"] == 0

        for i in range(10_000):
            box.append(f"again {i}")
        t = time.perf_counter()
        claim = box.claim()
        from termbridge.framing import render_messages

        render_messages(claim.records)
        box.commit(claim)
        drain_lib = time.perf_counter() - t

        print(f"termbridge outbox benchmark ({machine()})")
        print(f"  {'bare interpreter start (python -c pass, venv)':48s} {bare:8.1f} ms")
        print(
            f"  {'termbridge send --no-wake (installed, fsync)':48s} {send:8.1f} ms   = {ratio:.1f}x bare, "
            "paired median (goal <= 2.5x)"
        )
        print(f"  {'in-process enqueue, fsync each':48s} {enq:8.0f} msgs/s (target >= 5000)")
        print(f"  {'  ceiling: bare write + fdatasync, same disk':48s} {ceiling:8.0f} /s")
        print(f"  {f'drain of {drained} messages, CLI --print':48s} {drain_cli * 1000:8.0f} ms (target <= 1000)")
        print(f"  {'drain of 10000 messages, in-process':48s} {drain_lib * 1000:8.0f} ms")
        print(f"  {'peak RSS of termbridge send':48s} {send_rss:8.1f} MB (target <= 40)")
        print(f"  {'peak RSS of the 10k drain':48s} {drain_rss:8.1f} MB")
    finally:
        sleeper.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
