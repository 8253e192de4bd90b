"""Agent hook wall time, side by side with a bare interpreter start: each hook runs on the
agent's hot path and must add at most ~200 ms. Run: python bench/hooks.py"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import PY, TB, machine, median_ms, private_env, run  # noqa: E402

N = 20


def main() -> None:
    d, env = private_env()
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        run([*TB, "register", "bench", "--pid", str(sleeper.pid), "--kind", "claude"], env=env)
        env = dict(env, TERMBRIDGE_SESSION="bench")

        def hook(event, agent, payload):
            data = json.dumps(payload).encode()
            return lambda: run([*TB, "hook", event, "--agent", agent], env=env, input=data)

        def timed_handover() -> float:
            times = []
            for _ in range(N):
                run([*TB, "send", "bench", "hello", "--no-wake"], env=env)  # untimed: queue one message
                t = time.perf_counter()
                hook("stop", "claude", {"stop_hook_active": False})()
                times.append((time.perf_counter() - t) * 1000)
            return statistics.median(times)

        rows = [
            ("python -c pass (baseline)", median_ms(lambda: run([PY, "-c", "pass"]), N)),
            ("hook stop (nothing pending)", median_ms(hook("stop", "claude", {"stop_hook_active": True}), N)),
            (
                "hook prompt-submit (plain prompt)",
                median_ms(hook("prompt-submit", "codex", {"prompt": "fix the tests"}), N),
            ),
            (
                "hook prompt-submit (framed ids)",
                median_ms(
                    hook(
                        "prompt-submit",
                        "gemini",
                        {"prompt": "--- message 01KAAAAAAAAAAAAAAAAAAAAAAA from peer (reply_to: -) at x\n> hi"},
                    ),
                    N,
                ),
            ),
            (
                "hook session-start (no agent in chain)",
                median_ms(hook("session-start", "claude", {"source": "startup"}), N),
            ),
        ]
        rows.append(("hook stop (hands over 1 message)", timed_handover()))
        print(f"# {machine()}  TB={' '.join(TB)}  median of {N}")
        for name, ms in rows:
            print(f"{name:42s} {ms:7.1f} ms   (+{ms - rows[0][1]:.1f} over bare python)")
    finally:
        sleeper.kill()
        sleeper.wait()
        import shutil

        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
