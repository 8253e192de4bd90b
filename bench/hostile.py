"""What validation and directory checks cost (issue 11), side by side with a baseline tree.

Run: python bench/hostile.py [BASELINE_DIR]   e.g. BASELINE_DIR from `git archive main termbridge | tar -x -C /tmp/base`
Each column runs the same workload in a fresh interpreter with that tree first on sys.path:
`termbridge send` (CLI, median of 20), 3,000 in-process enqueues, a 10,000-message claim+commit,
and 1,000 `status` counts (Outbox.stats) over a 200-message queue.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import PY, machine, private_env  # noqa: E402

WORK = r"""
import json, os, statistics, subprocess, sys, time
from pathlib import Path
home = Path(os.environ["TERMBRIDGE_HOME"])
from termbridge import registry
from termbridge.outbox import Outbox
sleeper = subprocess.Popen(["sleep", "600"])
registry.register(home, "b", sleeper.pid)
times = []
for _ in range(20):
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "termbridge", "send", "b", "hello", "--no-wake"],
                   check=True, stdout=subprocess.DEVNULL)
    times.append((time.perf_counter() - t) * 1000)
box = Outbox(home, "b")
box.claim() and None
t = time.perf_counter()
for i in range(3000):
    box.append(f"message {i} " + "x" * 100)
enq = 3000 / (time.perf_counter() - t)
for i in range(7000):
    box.append(f"filler {i}")
t = time.perf_counter()
c = box.claim(); box.commit(c)
drain = (time.perf_counter() - t) * 1000
for i in range(200):
    box.append(f"s {i}")
t = time.perf_counter()
for _ in range(1000):
    box.stats()
stats = (time.perf_counter() - t)
sleeper.kill()
print(json.dumps({"send_ms": statistics.median(times), "enqueue_per_s": enq, "drain_10k_ms": drain,
                  "stats_us": stats * 1000}))
"""


def measure(tree: str) -> dict:
    d, env = private_env()
    env["PYTHONPATH"] = tree
    out = subprocess.run([PY, "-c", WORK], env=env, cwd=tree, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> None:
    here = str(Path(__file__).resolve().parent.parent)
    cols = [("this tree", here)] + ([("baseline", sys.argv[1])] if len(sys.argv) > 1 else [])
    res = [(name, measure(tree)) for name, tree in cols]
    print(f"termbridge validation/dir-check benchmark ({machine()})")
    print(f"  {'':34s}" + "".join(f"{name:>14s}" for name, _ in res))
    for key, label in (
        ("send_ms", "termbridge send (CLI), ms"),
        ("enqueue_per_s", "in-process enqueues / s"),
        ("drain_10k_ms", "claim+commit 10,000, ms"),
        ("stats_us", "Outbox.stats (200 queued), us"),
    ):
        print(f"  {label:34s}" + "".join(f"{r[key]:14.1f}" for _, r in res))


if __name__ == "__main__":
    main()
