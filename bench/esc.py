"""After a person's Esc: how soon a queued message reaches each real agent (hooks installed).

  python bench/esc.py [--runs N] [--kinds codex,claude,gemini]

Each agent runs offline against a loopback model stub that never answers (the turn hangs), with
`termbridge hooks install` done, so its prompt hook marks the session busy. A message is sent
while it works (`send` starts the idle waiter); then Esc is pressed. An interrupt runs no Stop
hook (Claude Code, Codex), so the busy mark stays fresh; 0.2 waited for it to go stale
(busy_mark_stale_s, 300 s). Measured per run:

  esc -> idle screen   Esc pressed to the agent's empty composer with no busy marker on screen
                       (Claude Code puts the interrupted prompt back into its composer: the
                       person clears it, and that moment counts as "idle")
  idle -> submitted    that moment to the message's `submitted` receipt (the waiter's
                       confirmed delivery)

Needs the pinned agents (tests/real_agent_lab.py installs them) and tmux.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from common import machine  # noqa: E402

BUSY = {"codex": "esc to interrupt", "claude": "esc to interrupt", "gemini": "esc to cancel"}


def _poll(fn, seconds: float, step: float = 0.05):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return None


def _failed(kind: str, why: str, agent) -> None:
    print(f"{kind}: {why}\n{agent.plain().rstrip()[-1500:]}", file=sys.stderr)
    return None


def one_run(kind: str, tmp: Path) -> tuple[float, float] | None:
    from agent_stub import AgentStub
    from real_agent_lab import READY, ModuleState, RealAgent, _tb

    st = ModuleState(tmp)
    stub = AgentStub()
    agent = None
    try:
        agent = RealAgent(st.lab, stub, tmp, kind, hooks=True)
        stub.hold()
        agent.prompt("start a long task")
        if not _poll(stub.waiting.is_set, 90, 0.2):
            return _failed(kind, "the turn never reached the model", agent)
        if not _poll(lambda: kind in _tb("sessions").stdout, 30):
            return _failed(kind, "its SessionStart hook did not register it", agent)
        sent = json.loads(_tb("send", kind, "after your interrupt", "--from", "peer", "--json").stdout)["id"]
        t_esc = time.time()
        agent.keys("Escape")

        def restored() -> bool:  # Claude Code puts the interrupted prompt back into its composer
            return any(ln.lstrip().startswith("❯") and "start a long task" in ln for ln in agent.plain().splitlines())

        def idle_screen() -> float | None:
            screen = agent.plain()
            if BUSY[kind] in screen or restored():
                return None
            if READY[kind] in screen or "Type your message" in screen:
                return time.time()
            return None

        if kind == "claude" and _poll(lambda: restored() and BUSY[kind] not in agent.plain(), 10):
            agent.keys("C-u")  # the person clears it (the message waits for that: never typed into a draft)
        t_idle = _poll(idle_screen, 60)
        if t_idle is None:
            return _failed(kind, "no idle screen after Esc: " + _tb("status").stdout.strip(), agent)

        def submitted() -> float | None:
            r = json.loads(_tb("receipt", sent, "--json").stdout or "{}")
            return r.get("at", {}).get("submitted")

        t_sub = _poll(submitted, 120, 0.2)
        if t_sub is None:
            return _failed(kind, "the message was not submitted: " + _tb("status").stdout.strip(), agent)
        return t_idle - t_esc, t_sub - t_idle
    finally:
        if agent is not None:
            agent.close()
        stub.close()
        st.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--kinds", default="codex,claude,gemini")
    args = ap.parse_args()
    from real_agent_lab import BIN

    if not BIN:
        print("the real agents are not installed: python tests/real_agent_lab.py install", file=sys.stderr)
        return 2
    print(f"# {machine()}")
    print("# busy mark from the prompt hook; 0.2 waited for busy_mark_stale_s = 300 s after an Esc")
    print(f"{'agent':8} {'runs':>4} {'esc->idle screen s (med, min-max)':>36} {'idle->submitted s (med, min-max)':>36}")
    for kind in args.kinds.split(","):
        rows = []
        for _ in range(args.runs):
            tmp = Path(tempfile.mkdtemp(prefix="tbesc", dir="/tmp"))
            r = one_run(kind, tmp)
            if r is not None:
                rows.append(r)
        if not rows:
            print(f"{kind:8} {0:>4} {'(no run completed)':>36}")
            continue
        a, b = [x[0] for x in rows], [x[1] for x in rows]
        fa = f"{statistics.median(a):.2f} ({min(a):.2f}-{max(a):.2f})"
        fb = f"{statistics.median(b):.2f} ({min(b):.2f}-{max(b):.2f})"
        print(f"{kind:8} {len(rows):>4} {fa:>36} {fb:>36}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
