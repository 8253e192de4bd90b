"""Target figures, side by side in one run: resolving one session among 100 tmux panes (and how
many tmux processes that spawns), `termbridge submit` end to end minus its gap, and a bare
`tmux send-keys` baseline. Run: python bench/targets.py"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import TB, machine, median_ms, private_env, run  # noqa: E402

PANES = 100


def main() -> None:
    d, env = private_env()
    sock = str(d / "tmux.sock")
    env["TERMBRIDGE_TMUX_SOCKET"] = sock
    real_tmux = shutil.which("tmux")
    shim_dir = d / "shim"
    shim_dir.mkdir()
    count_file = d / "tmux-calls"
    (shim_dir / "tmux").write_text(f'#!/bin/sh\necho x >> {count_file}\nexec {real_tmux} "$@"\n')
    (shim_dir / "tmux").chmod(0o755)
    counted = dict(env, PATH=f"{shim_dir}:{env['PATH']}")
    tmux = [real_tmux, "-S", sock]
    try:
        run([*tmux, "-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "50", "cat > /dev/null"])
        for _ in range(PANES - 1):
            run([*tmux, "new-window", "-d", "sleep 600"])
        panes = subprocess.run(
            [*tmux, "list-panes", "-a", "-F", "#{pane_id} #{pane_pid}"], capture_output=True, text=True
        ).stdout.split()
        target_pane, target_pid = panes[0], panes[1]
        run([*TB, "register", "bench", "--pid", target_pid, "--kind", "other"], env=env)

        count_file.unlink(missing_ok=True)
        run([*TB, "resolve", "bench"], env=counted)
        spawned = len(count_file.read_text().splitlines())

        resolve_cli = median_ms(lambda: run([*TB, "resolve", "bench"], env=env), 15)
        os.environ.update(
            TERMBRIDGE_HOME=env["TERMBRIDGE_HOME"],
            TERMBRIDGE_TMUX_SOCKET=sock,
            TERMBRIDGE_CONFIG=env["TERMBRIDGE_CONFIG"],
        )
        from termbridge import registry, targets

        sess = registry.lookup(Path(env["TERMBRIDGE_HOME"]), "bench")
        resolve_lib = median_ms(lambda: targets.resolve_session(Path(env["TERMBRIDGE_HOME"]), sess), 30)

        bare = median_ms(
            lambda: (
                run([*tmux, "send-keys", "-t", target_pane, "-l", "hello world"]),
                run([*tmux, "send-keys", "-t", target_pane, "Enter"]),
            ),
            15,
        )
        submit = median_ms(lambda: run([*TB, "submit", "bench", "hello world", "--gap-ms", "0"], env=env), 15)
        t0 = time.perf_counter()
        run([sys.executable, "-c", "import libtmux"])
        libtmux_import = (time.perf_counter() - t0) * 1000
        py = median_ms(lambda: run([sys.executable, "-c", "pass"]), 10)

        print(f"termbridge targets benchmark ({machine()}, {PANES} tmux panes)")
        print(f"  {'tmux processes spawned by one `termbridge resolve`':52s} {spawned:8d}")
        print(f"  {'termbridge resolve (CLI, 100 panes)':52s} {resolve_cli:8.1f} ms")
        print(f"  {'resolve in-process (one list-panes + /proc walk)':52s} {resolve_lib:8.1f} ms")
        print(f"  {'bare tmux send-keys text + Enter (baseline)':52s} {bare:8.1f} ms   (no verification, no gap)")
        print(
            f"  {'termbridge submit end to end, --gap-ms 0':52s} {submit:8.1f} ms   (resolve + verify + paste + Enter)"
        )
        print(
            f"  {'  for scale: python -c pass / python -c import libtmux':52s} {py:8.1f} ms / {libtmux_import:.1f} ms"
        )
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
