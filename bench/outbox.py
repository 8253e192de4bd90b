"""Outbox figures, side by side in one run: interpreter start vs `termbridge send`, in-process
fsync'd enqueues per second, a 10,000-message drain, and peak RSS. Run: python bench/outbox.py"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import PY, TB, children_peak_rss_mb, machine, median_ms, private_env, run  # noqa: E402


def main() -> None:
    d, env = private_env()
    os.environ.update(TERMBRIDGE_HOME=env["TERMBRIDGE_HOME"], TERMBRIDGE_CONFIG=env["TERMBRIDGE_CONFIG"])
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        run([*TB, "register", "bench", "--pid", str(sleeper.pid)], env=env)
        bare = median_ms(lambda: run([PY, "-c", "pass"]), 20)
        rss_before = children_peak_rss_mb()
        send = median_ms(lambda: run([*TB, "send", "bench", "hello", "--no-wake"], env=env), 20)
        send_rss = children_peak_rss_mb()

        from termbridge.outbox import Outbox

        box = Outbox(Path(env["TERMBRIDGE_HOME"]), "bench")
        box.claim() and None
        n = 3000
        t = time.perf_counter()
        for i in range(n):
            box.append(f"message {i} " + "x" * 100)
        enq = n / (time.perf_counter() - t)

        for i in range(10_000 - n - 20):
            box.append(f"filler {i} " + "y" * 100)
        t = time.perf_counter()
        with open(os.devnull, "w") as devnull:
            subprocess.run([*TB, "drain", "bench", "--print"], env=env, stdout=devnull, check=True)
        drain_cli = time.perf_counter() - t
        drain_rss = children_peak_rss_mb()
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
        print(f"  {'bare interpreter start (python -c pass)':48s} {bare:8.1f} ms")
        print(f"  {'termbridge send (CLI, fsync-durable)':48s} {send:8.1f} ms   = {send / bare:.1f}x bare (target <= 5x)")
        print(f"  {'in-process enqueue, fsync each':48s} {enq:8.0f} msgs/s (target >= 2000)")
        print(f"  {'drain of %d messages, CLI --print' % drained:48s} {drain_cli * 1000:8.0f} ms (target <= 1000)")
        print(f"  {'drain of 10000 messages, in-process':48s} {drain_lib * 1000:8.0f} ms")
        print(f"  {'peak RSS of termbridge send':48s} {max(send_rss, rss_before):8.1f} MB (target <= 40)")
        print(f"  {'peak RSS of the 10k drain':48s} {drain_rss:8.1f} MB")
    finally:
        sleeper.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
