"""`termbridge demo`: every delivery path, for real, on a private tmux server and state dir."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

_ENV_KEYS = (
    "TERMBRIDGE_HOME",
    "TERMBRIDGE_TMUX_SOCKET",
    "TERMBRIDGE_CONFIG",
    "TERMBRIDGE_KITTY_SOCKET",
    "KITTY_LISTEN_ON",
    "TMUX",
    "TMUX_PANE",
    "TERMBRIDGE_SESSION",
)


class Demo:
    def __init__(self, out: Callable[[str], None]):
        self.out = out
        self.dir = Path(tempfile.mkdtemp(prefix="tb-demo-", dir="/tmp"))
        self.home = self.dir / "home"
        self.socket = str(self.dir / "tmux.sock")
        self.saved = {k: os.environ.get(k) for k in _ENV_KEYS}
        self.started = False  # the demo's tmux server was started (so cleanup kills it)

    # ------------------------------------------------------------------ helpers
    def say(self, text: str = "") -> None:
        self.out(text)

    def step(self, n: int, title: str) -> None:
        self.say(f"\n[{n}] {title}")

    def received(self, log: Path) -> list[str]:
        if not log.exists():
            return []
        return [e["text"] for e in map(json.loads, log.read_text().splitlines()) if "text" in e]

    def wait_for(self, fn, seconds: float = 10.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.05)
        return fn()

    def show_received(self, log: Path, since: int) -> None:
        got = self.received(log)[since:]
        if not got:
            self.say("    agent received: (nothing)")
        for text in got:
            lines = text.split("\n")
            self.say(f"    agent received: {lines[0]!r}")
            for line in lines[1:]:
                self.say(f"                    {line!r}")

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """The real `termbridge` command (as a hook would run it), on the demo's state and server."""
        return subprocess.run(
            [sys.executable, "-m", "termbridge", *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ),
        )

    def tmux(self, *args: str, check: bool = False) -> str:
        """One tmux command on the demo's server through termbridge's runner; "" on failure unless CHECK."""
        from termbridge.errors import TmuxError
        from termbridge.tmux_cmd import run_tmux

        try:
            return run_tmux(*args, env={"TERMBRIDGE_TMUX_SOCKET": self.socket}, timeout=10)
        except TmuxError:
            if check:
                raise
            return ""

    # ------------------------------------------------------------------ the tour
    def run(self, keep: bool = False) -> None:
        from termbridge import hooks, paths, proctree, receipts, registry, submit, targets, waiter, wake
        from termbridge.config import _cache
        from termbridge.context import SessionContext
        from termbridge.delivery import drain_to_target
        from termbridge.errors import TargetBusy
        from termbridge.outbox import Outbox
        from termbridge.status import collect_status
        from termbridge.surface import read_surface

        for k in _ENV_KEYS:
            os.environ.pop(k, None)
        os.environ.update(
            TERMBRIDGE_HOME=str(self.home),
            TERMBRIDGE_TMUX_SOCKET=self.socket,
            TERMBRIDGE_CONFIG=str(self.dir / "no-config.yaml"),
        )
        _cache.clear()
        paths.ensure_dir(self.home)
        py = shlex.quote(sys.executable)
        log, decoy_log = self.dir / "agent.log", self.dir / "decoy.log"
        agent_cmd = f"exec {py} -m termbridge.demo_agent --log {shlex.quote(str(log))} --title coder --work 2"
        decoy_cmd = f"exec {py} -m termbridge.demo_agent --log {shlex.quote(str(decoy_log))} --title decoy"

        self.say("termbridge demo: a private tmux server, a private state dir, a raw-mode demo agent that")
        self.say("behaves like Codex (bracketed paste; an Enter within 120 ms of a paste burst is a newline).")
        self.say(f"  state: {self.home}\n  tmux:  {self.socket}")

        self.step(1, "start an isolated tmux server with the agent and a decoy pane")
        self.started = True
        # -f /dev/null: the user's tmux.conf (and any termbridge plugin in it) stays out of the demo.
        agent, pid_s = self.tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "demo",
            "-x",
            "160",
            "-y",
            "40",
            "-P",
            "-F",
            "#{pane_id} #{pane_pid}",
            agent_cmd,
            check=True,
        ).split()
        decoy = self.tmux("split-window", "-t", agent, "-P", "-F", "#{pane_id}", decoy_cmd, check=True).strip()
        self.wait_for(
            lambda: (
                "›" in self.tmux("capture-pane", "-p", "-t", agent)
                and "›" in self.tmux("capture-pane", "-p", "-t", decoy)
            )
        )
        pid = int(pid_s)
        self.say(f"    agent in pane {agent} (pid {pid}); decoy in pane {decoy}")

        self.step(2, "register the agent as session 'coder' and resolve its verified target")
        session = registry.register(self.home, "coder", pid, "codex")
        os.environ["TMUX_PANE"] = decoy  # a spoofed pane id: never used to choose
        tgt = targets.resolve_session(self.home, session)
        self.say(f"    $TMUX_PANE says {decoy} (spoofed); the process tree says {tgt.target}")
        self.say(f"    proof: pid chain {tgt.chain} ends at the pane's root process")

        self.step(3, "baseline: bare `tmux send-keys -l TEXT; send-keys Enter`")
        n = len(self.received(log))
        self.tmux("send-keys", "-t", agent, "-l", "hello from a bare send-keys")
        self.tmux("send-keys", "-t", agent, "Enter")
        time.sleep(0.6)
        self.show_received(log, n)
        self.say("    -> the Enter landed inside the paste burst and became a newline; nothing was submitted")
        self.tmux("send-keys", "-t", agent, "C-u")
        time.sleep(0.3)

        self.step(4, "termbridge submit: sanitized paste, Enter as its own key 200 ms later, then confirmed on screen")
        n = len(self.received(log))
        res = submit.submit_text(self.home, "coder", "hello from termbridge\nsecond line \x1b[31m(escape removed)")
        self.wait_for(lambda: len(self.received(log)) > n)
        self.say(f"    submit -> {res.result}")
        self.show_received(log, n)
        self.wait_for(lambda: read_surface(self.home, session, tgt).kind == "idle", 15)

        self.step(5, "a person's draft: `echo … | termbridge submit coder` (how hooks use it) never submits it")
        for ch in "my half-typed draft":
            self.tmux("send-keys", "-t", agent, "-l", ch)
            time.sleep(0.03)
        p = self.cli("submit", "coder", stdin="review done, over to you")
        self.say(f"    piped submit -> exit {p.returncode}: {p.stderr.strip()}")
        self.say(f"    the surface: {read_surface(self.home, session, tgt, sample=False).as_dict()}")
        self.tmux("send-keys", "-t", agent, "C-u")
        self.wait_for(lambda: read_surface(self.home, session, tgt).kind == "idle", 15)
        n = len(self.received(log))
        p = self.cli("submit", "coder", stdin="review done, over to you")
        self.wait_for(lambda: len(self.received(log)) > n)
        self.say(f"    with an empty composer -> exit {p.returncode}")
        self.show_received(log, n)
        self.wait_for(lambda: read_surface(self.home, session, tgt).kind == "idle", 15)

        self.step(6, "send while the agent works: queued durably; an idle waiter delivers the moment it is idle")
        submit.submit_text(self.home, "coder", "/busy 4")
        self.wait_for(lambda: "esc to interrupt" in self.tmux("capture-pane", "-p", "-t", agent))
        n = len(self.received(log))
        p = self.cli("send", "coder", "Tests pass on main; please review PR 7.", "--from", "reviewer", "--json")
        sent = json.loads(p.stdout)
        self.say(f"    send -> id {sent['id']}, wake {sent['wake']} (fsync'd before the id is printed)")
        try:
            drain_to_target(SessionContext(self.home, "coder"))
        except TargetBusy as e:
            self.say(f"    drain -> exit {e.exit_code}: {e}")
        self.say(f"    wake -> {wake.wake_session(SessionContext(self.home, 'coder'))}")
        self.wait_for(lambda: waiter.live_waiter(self.home, "coder") or len(self.received(log)) > n, 5)
        state = receipts.lookup(self.home, sent["id"])["state"]
        self.say(f"    waiter: {waiter.live_waiter(self.home, 'coder')}; receipt: {state}")
        self.wait_for(lambda: len(self.received(log)) > n, 20)
        self.show_received(log, n)
        self.wait_for(lambda: receipts.lookup(self.home, sent["id"])["state"] == "submitted", 10)
        self.say(
            f"    receipt -> {receipts.lookup(self.home, sent['id'])['state']} (confirmed: the text left the composer)"
        )
        self.wait_for(lambda: read_surface(self.home, session, tgt).kind == "idle", 20)

        self.step(7, "drain: every pending message, framed as peer context, in one confirmed submission")
        box = Outbox(self.home, "coder")
        first = box.append("The deploy is frozen until Friday.", sender="lead")
        box.append("Also: rebase before you push.", sender="lead", reply_to=first["id"])
        n = len(self.received(log))
        done = drain_to_target(SessionContext(self.home, "coder"))
        self.wait_for(lambda: len(self.received(log)) > n)
        self.say(f"    drain -> delivered {done.count} messages")
        self.show_received(log, n)
        self.wait_for(lambda: read_surface(self.home, session, tgt).kind == "idle", 20)

        self.step(8, "a human's draft is never submitted over, not even with --force")
        for ch in "half-typed":
            self.tmux("send-keys", "-t", agent, "-l", ch)
            time.sleep(0.03)
        box.append("This must wait for the draft.", sender="lead")
        try:
            drain_to_target(SessionContext(self.home, "coder"), force=True)
        except TargetBusy as e:
            self.say(f"    drain --force -> exit {e.exit_code}: {e}")
        screen = self.tmux("capture-pane", "-p", "-t", agent)
        self.say(
            f"    the composer still shows: {next(line for line in screen.splitlines() if line.startswith('›'))!r}"
        )
        self.tmux("send-keys", "-t", agent, "C-u")

        self.step(9, "Claude Code's Stop hook: block with the messages while the budget lasts")
        for active in (False, True):
            out: list[str] = []
            hooks.claude_stop(self.home, "coder", json.dumps({"stop_hook_active": active}).encode(), out.append)
            if out:
                reply = json.loads(out[0])
                self.say(
                    f"    stop_hook_active={active} -> decision={reply['decision']!r}, reason starts "
                    f"{reply['reason'][:60]!r}..."
                )
            else:
                self.say(f"    stop_hook_active={active} -> (no output: nothing pending, Claude may stop)")

        self.step(10, "ask: a question gets an answer, from the other agent's own Stop hook (never the screen)")
        from termbridge.demo_agent import launcher

        exe = launcher(self.dir / "reviewer", "codex")  # a process recognised as Codex, running the hooks
        rev_cmd = (
            f"exec env TERMBRIDGE_SESSION=reviewer {shlex.quote(str(exe))} --title reviewer --work 1"
            f" --log {shlex.quote(str(self.dir / 'reviewer.log'))} --hooks codex"
            f" --record {shlex.quote(str(self.dir / 'reviewer.jsonl'))}"
        )
        self.tmux("split-window", "-t", agent, "-P", "-F", "#{pane_id}", rev_cmd, check=True)
        self.wait_for(lambda: any(s.name == "reviewer" for s in registry.all_sessions(self.home)), 15)
        self.say("    a second agent, 'reviewer', registered itself through its own SessionStart hook")
        p = self.cli("ask", "reviewer", "Is the deploy frozen until Friday?", "--from", "coder", "--timeout", "30")
        self.say(f"    ask reviewer -> exit {p.returncode}, answer: {p.stdout.strip()!r}")
        qid = json.loads((self.home / "asks.log").read_text().splitlines()[-1])["id"]
        r = receipts.lookup(self.home, qid)
        self.say(f"    receipt {qid}: {r['state']} via {r['via']} (its prompt hook saw it, its Stop hook answered)")

        self.step(11, "status and the decoy")
        for row in collect_status(self.home):
            self.say(
                f"    {row['name']}: pid {row['pid']} alive={row['alive']} target={row['target']} "
                f"surface={row['surface']} pending={row['pending']} in_flight={row['in_flight']} "
                f"dead_letters={row['dead_letters']} last_wake={row['last_wake']}"
            )
        self.say(f"    decoy received: {self.received(decoy_log) or 'nothing'} -- nothing was ever typed there")
        events = (self.home / "events.log").read_text().splitlines()
        kinds = sorted({json.loads(e)["event"] for e in events})
        self.say(f"    event log: {len(events)} events ({', '.join(kinds)})")
        assert proctree.is_alive(pid)
        if keep:
            self.say(f"\nkept running. Watch it:   tmux -S {self.socket} attach")
            self.say(f"clean up afterwards:      tmux -S {self.socket} kill-server; rm -rf {self.dir}")

    def _wait_for_waiters(self) -> None:
        """An idle waiter exits within a poll once its session died: let it, before removing its state."""
        from termbridge import waiter

        sessions = self.home / "sessions"
        names = [d.name for d in sessions.iterdir()] if sessions.is_dir() else []
        self.wait_for(lambda: not any(waiter.live_waiter(self.home, n) for n in names), 10)

    def cleanup(self, keep: bool) -> None:
        if not keep:
            if self.started:
                self.tmux("kill-server")  # "" when it is already gone
            self._wait_for_waiters()
            shutil.rmtree(self.dir, ignore_errors=True)
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_demo(out: Callable[[str], None], keep: bool = False) -> None:
    """Run the tour; everything it started is cleaned up on every exit path (unless KEEP)."""
    if shutil.which("tmux") is None:
        from termbridge.errors import TermbridgeError

        raise TermbridgeError("the demo needs tmux (apt-get install tmux)")
    demo = Demo(out)
    ok = False
    try:
        demo.run(keep)
        ok = True
    finally:
        demo.cleanup(keep and ok)
