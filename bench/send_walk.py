"""A `send` walked from the CLI to the disk: how often the session is looked up on the way.

  python bench/send_walk.py      (run it from outside the repository to measure another tree
                                  with PYTHONPATH=that/tree: `python -c` puts the cwd first)

One demo agent (the raw-mode TUI) in a pane of a private tmux server, registered as a push
session; then `termbridge send` runs (its hot-path entry, as `python -m termbridge` does) in
a child process that counts, with a profile hook, every termbridge module entered and every
call of the functions that look the session up again: `registry.lookup` (the registry entry
read from disk), `session_dir` (the directory named), `Outbox.__init__` (an outbox built)
and `config.load_config`; and every state file opened (`paths.open_state`), by name. The
send delivers at once (an idle target), so the walk includes the drain, the typing and the
confirmation. WALK_WHERE="Outbox constructions" (any counted name) prints where each such
call came from.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import PY, TB, private_env  # noqa: E402

COUNTED = {
    ("termbridge.registry", "lookup"): "registry lookups",
    ("termbridge.registry", "session_dir"): "session_dir calls",
    ("termbridge.session_files", "session_dir"): "session_dir calls",
    ("termbridge.outbox", "Outbox.__init__"): "Outbox constructions",
    ("termbridge.config", "load_config"): "load_config calls",
}

CHILD = r"""
import json, sys
from collections import Counter
counts, modules, opened = Counter(), set(), Counter()
def prof(frame, event, arg):
    if event != "call":
        return
    mod = frame.f_globals.get("__name__", "")
    if not mod.startswith("termbridge"):
        return
    modules.add(mod)
    key = (mod, frame.f_code.co_qualname)
    if key in COUNTED:
        counts[COUNTED[key]] += 1
        if WHERE and COUNTED[key] == WHERE:
            import traceback
            print("".join(traceback.format_stack(frame.f_back, limit=4)), file=sys.stderr)
    if key == ("termbridge.paths", "open_state"):
        opened[str(frame.f_locals.get("path", "")).rsplit("/", 1)[-1]] += 1
COUNTED = {tuple(k.split(":")): v for k, v in json.loads(sys.argv[1]).items()}
WHERE = sys.argv[2]
sys.setprofile(prof)
sys.argv = ["termbridge", "send", "a", "hello from the walk"]
from termbridge.fastpath import main
try:
    main()
finally:
    sys.setprofile(None)
    print(json.dumps({"counts": dict(counts), "modules": sorted(modules), "opened": dict(opened)}), file=sys.stderr)
"""


def main() -> None:
    d, env = private_env()
    sock = str(d / "tmux.sock")
    log = d / "agent.log"
    cmd = f"exec {shlex.quote(PY)} -m termbridge.demo_agent --log {shlex.quote(str(log))} --title agent"
    subprocess.run(
        ["tmux", "-S", sock, "-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "45", cmd], check=True
    )
    env["TERMBRIDGE_TMUX_SOCKET"] = sock
    try:
        deadline = time.monotonic() + 15
        while (
            "›" not in subprocess.run(["tmux", "-S", sock, "capture-pane", "-p"], capture_output=True, text=True).stdout
        ):
            if time.monotonic() > deadline:
                raise SystemExit("the demo agent did not start")
            time.sleep(0.05)
        pane_pid = int(
            subprocess.run(["tmux", "-S", sock, "display", "-p", "#{pane_pid}"], capture_output=True, text=True).stdout
        )
        subprocess.run([*TB, "register", "a", "--pid", str(pane_pid), "--kind", "codex"], env=env, check=True)
        counted = {f"{m}:{f}": v for (m, f), v in COUNTED.items()}
        argv = [PY, "-c", CHILD, json.dumps(counted), os.environ.get("WALK_WHERE", "")]
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        if '"counts"' not in p.stderr:
            raise SystemExit(p.stderr)
        walk = json.loads(next(ln for ln in p.stderr.splitlines() if ln.startswith('{"counts')))
        print(f"send: exit {p.returncode}, stdout {p.stdout.strip()!r}")
        if os.environ.get("WALK_WHERE"):
            print(p.stderr)
        for what in dict.fromkeys(COUNTED.values()):
            print(f"  {what:22} {walk['counts'].get(what, 0)}")
        opened = walk["opened"]
        print(
            f"  {'state files opened':22} {sum(opened.values())}: "
            + " ".join(f"{k} {v}" for k, v in sorted(opened.items()))
        )
        print(
            f"  {'modules entered':22} {len(walk['modules'])}: {' '.join(m.split('.', 1)[-1] for m in walk['modules'])}"
        )
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True)
        os.system(f"rm -rf {shlex.quote(str(d))}")


if __name__ == "__main__":
    main()
