"""Resolution from anywhere, side by side with the 0.1 path: one agent among 100 panes on tmux server A,
two more servers of the same user (20 panes each) in the socket directory. Resolve it from A's own
environment, from a caller with no $TMUX (cron), and — worst case — for a session registered from
nowhere (every server of the user is listed until one proves it). The 0.1 code (main's branch point)
is timed the same way; it reaches the agent only when the caller names A.
Run: python bench/resolve_anywhere.py"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import PY, machine, median_ms, private_env, run  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BASE = "5eae7c9"  # main when this work started: the 0.1 resolution path
PANES_A, PANES_OTHER = 100, 20

TIMER = """
import os, statistics, sys, time
from pathlib import Path
from termbridge import registry, targets
home = Path(os.environ["TERMBRIDGE_HOME"])
sess = registry.lookup(home, sys.argv[1])
ts = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    try:
        targets.resolve_session(home, sess, log_failure=False)
    except Exception:
        print("unreachable"); raise SystemExit
    ts.append((time.perf_counter() - t) * 1000)
print(f"{statistics.median(ts):.2f}")
"""


def main() -> None:
    d, env = private_env()
    env["TMUX_TMPDIR"] = str(d)
    env.pop("TERMBRIDGE_TMUX_SOCKET", None)
    sockdir = d / f"tmux-{os.getuid()}"
    sockdir.mkdir(mode=0o700)
    real_tmux = shutil.which("tmux")
    servers = {n: str(sockdir / n) for n in ("b", "c", "zz-agent")}  # sorted: the agent's server is listed last
    old = d / "old"
    old.mkdir()
    subprocess.run(f"git -C {REPO} archive {BASE} termbridge | tar -x -C {old}", shell=True, check=True)
    shim = d / "shim"
    shim.mkdir()
    calls = d / "calls"
    (shim / "tmux").write_text(f'#!/bin/sh\necho x >> {calls}\nexec {real_tmux} "$@"\n')
    (shim / "tmux").chmod(0o755)
    try:
        for name, sock in servers.items():
            n = PANES_A if name == "zz-agent" else PANES_OTHER
            run([real_tmux, "-S", sock, "-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "50", "sleep 600"])
            for _ in range(n - 1):
                run([real_tmux, "-S", sock, "new-window", "-d", "sleep 600"])
        a = servers["zz-agent"]
        pid = subprocess.run(
            [real_tmux, "-S", a, "list-panes", "-a", "-F", "#{pane_pid}"], capture_output=True, text=True
        ).stdout.split()[0]
        from_a = dict(env, TERMBRIDGE_TMUX_SOCKET=a)
        cron = dict(env)
        in_b = dict(env, TMUX=f"{servers['b']},1,0")
        tb_new = [PY, "-m", "termbridge"]
        run([*tb_new, "register", "onA", "--pid", pid], env=dict(from_a, PYTHONPATH=str(REPO)), cwd=d)
        run([*tb_new, "register", "nowhere", "--pid", pid], env=dict(cron, PYTHONPATH=str(REPO)), cwd=d)

        def lib(code: Path, name: str, caller: dict, n: int = 30) -> str:
            out = subprocess.run(
                [PY, "-c", TIMER, name, str(n)],
                env=dict(caller, PYTHONPATH=str(code)),
                cwd=d,
                capture_output=True,
                text=True,
            ).stdout.strip()
            return out if out == "unreachable" else f"{float(out):6.2f} ms"

        def cli_all(rows, rounds: int = 15) -> list[str]:
            """CLI medians, sampled round-robin across the rows so machine load hits them all alike."""
            import statistics
            import time

            envs = [dict(caller, PYTHONPATH=str(code)) for _, code, _, caller in rows]
            ok = [
                subprocess.run([*tb_new, "resolve", r[2]], env=e, cwd=d, capture_output=True).returncode == 0
                for r, e in zip(rows, envs, strict=True)
            ]
            times: list[list[float]] = [[] for _ in rows]
            for _ in range(rounds):
                for i, (r, e) in enumerate(zip(rows, envs, strict=True)):
                    if ok[i]:
                        t = time.perf_counter()
                        run([*tb_new, "resolve", r[2]], env=e, cwd=d)
                        times[i].append((time.perf_counter() - t) * 1000)
            return [f"{statistics.median(t):6.1f} ms" if ok[i] else "exit 3" for i, t in enumerate(times)]

        def spawned(code: Path, name: str, caller: dict) -> int:
            calls.unlink(missing_ok=True)
            subprocess.run(
                [*tb_new, "resolve", name],
                env=dict(caller, PYTHONPATH=str(code), PATH=f"{shim}:{env['PATH']}"),
                cwd=d,
                capture_output=True,
            )
            return len(calls.read_text().splitlines()) if calls.exists() else 0

        rows = [
            ("0.1: caller names A (TERMBRIDGE_TMUX_SOCKET)", old, "onA", from_a),
            ("0.1: caller with no $TMUX (cron)", old, "onA", cron),
            ("0.1: caller inside server B ($TMUX)", old, "onA", in_b),
            ("0.2: caller names A", REPO, "onA", from_a),
            ("0.2: cron caller, session registered on A", REPO, "onA", cron),
            ("0.2: caller inside server B, registered on A", REPO, "onA", in_b),
            ("0.2: cron caller, session registered nowhere", REPO, "nowhere", cron),
        ]
        print(f"termbridge resolve from anywhere ({machine()})")
        print(f"  agent among {PANES_A} panes on server A; 2 more servers of this user with {PANES_OTHER} panes each")
        print(f"  {'':48s} {'in-process':>12s} {'CLI':>10s} {'tmux procs':>11s}")
        for (label, code, name, caller), cli in zip(rows, cli_all(rows), strict=True):
            print(f"  {label:48s} {lib(code, name, caller):>12s} {cli:>10s} {spawned(code, name, caller):>11d}")
        py = median_ms(lambda: run([PY, "-c", "pass"]), 10)
        print(f"  {'for scale: python -c pass':48s} {'':>12s} {py:7.1f} ms")
    finally:
        for sock in servers.values():
            subprocess.run([real_tmux, "-S", sock, "kill-server"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
