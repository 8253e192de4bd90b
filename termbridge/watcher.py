"""The terminal watchers: one detached process per tmux server, and one per kitty, waits for
every session on it.

A session whose message could not be delivered at once (its agent is busy, a person's draft
or a dialog is in the way) is *marked* (`waiting.json` in its directory names its tmux
server), and that server's watcher is started unless it runs. One watcher serves every
marked session of its server, whatever their number:

  - each poll (POLL_S) one `list-panes -a` lists the whole server, with what changes when a
    pane's screen does (cursor, history, window activity, mode: tmux_panes.py);
  - it reads screens only of the panes whose listing changed, that looked deliverable last
    time, or whose due check (CHECK_EVERY_S) came: all of them with one more tmux process;
  - a screen with the kind's busy marker, or a pane in a mode, is not deliverable, and that
    is all it needs to know; any other is judged exactly as the per-session waiter judged it
    (one `read_surface` sample, hook marks included), and an idle or `ours` one gets the same
    delivery (idle_delivery.deliver: a confirmed drain, or the pull nudge), in a thread of
    its own so one slow delivery never holds up the others.

So it never types into a draft, a dialog or `unknown`: the drain samples twice and confirms
like any drain. It stops waiting for a session when nothing is pending, the session is gone
or dead, or after `idle_wait_max_s` (the events `waiter_started` / `waiter_exit` per session,
as before), and exits when none is left. It holds `watchers/<key>.lock` (key: its socket
path) for its whole life: one per server however many `send`s start it. A watcher killed at
any instant loses nothing: the marks and messages stay on disk, the outbox's claims make
every delivery exactly-once, and the next `send` starts another. A server that stops
answering (killed, restarted on the same socket) is listed again each poll.

A kitty (KittyWatcher, keyed `kitty:<its remote-control address>`) is watched the same way, with
what kitty offers: it tells nothing when a window's screen changes, so each poll reads the plain
text of every served window over its one socket (a request each, in process: no client
processes), passes over a window that shows its kind's busy marker or the very text it was last
judged on, and judges the rest exactly as above; one `ls` of the kitty at most once a second
finds the windows. The PTY wrapper is a terminal of its own: its session's own waiter
(session_waiter.py) is that terminal's one watcher.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from termbridge import background, events, paths, proctree
from termbridge.context import SessionContext
from termbridge.session_files import SessionFiles, sessions_dir

if TYPE_CHECKING:
    from termbridge.paths import StrPath

POLL_S = 0.5  # one list-panes of the whole server per poll
CHECK_EVERY_S = 5.0  # each session's own state (alive, pending, back-off) and screen at least this often
RESOLVE_EVERY_S = 5.0  # a session's process chain is walked again at least this often
LOCK_WAIT_S = 3.0  # a new watcher waits this long for the lock of one that is deciding to exit
MAX_DELIVERIES = 8  # deliveries running at once (each into its own session)


# ---------------------------------------------------------------- where its state lives
KITTY = "kitty:"  # a kitty's watcher is keyed kitty:<address>; a tmux server's by its socket's path


def kitty_key(address: str) -> str:
    """The watcher key of the kitty listening at ADDRESS (kitty's own spelling: unix:/path,
    unix:@name, tcp:host:port), a socket path made absolute so two spellings of it share one watcher."""
    if address.startswith("unix:") and not address.startswith("unix:@"):
        address = "unix:" + os.path.abspath(os.path.expanduser(address[5:]))
    return KITTY + address


def _norm(server: str) -> str:
    """SERVER as a watcher key: a kitty key as it is, a tmux socket as its absolute path."""
    return server if server.startswith(KITTY) else os.path.abspath(server)


def server_key(socket: str) -> str:
    """The watcher's file name for the tmux server at SOCKET (its absolute path), or a kitty key."""
    return hashlib.sha256(_norm(socket).encode()).hexdigest()[:16]


def watchers_dir(home: StrPath) -> Path:
    """<state home>/watchers/: <key>.json (the running watcher) and <key>.lock (held for its life)."""
    return Path(home) / "watchers"


def _info(home: StrPath, socket: str) -> Path:
    return watchers_dir(home) / f"{server_key(socket)}.json"


def live_watcher(home: StrPath, socket: str) -> dict | None:
    """{"pid", "since", "server"} of the watcher running for the tmux server at SOCKET (or a kitty key), or None."""
    info = background.live(_info(home, socket))
    return {"pid": info["pid"], "since": info.get("since"), "server": info.get("socket")} if info else None


# ---------------------------------------------------------------- the marks
def read_mark(home: StrPath, name: str) -> dict | None:
    """NAME's mark: {"server": socket, "since": time} while it waits for its target to go idle."""
    m = paths.read_json(SessionFiles.of(home, name).waiting)
    if not isinstance(m, dict) or not isinstance(m.get("server"), str):
        return None
    if not isinstance(m.get("since"), (int, float)):
        m["since"] = time.time()
    return m


def mark(home: StrPath, name: str, socket: str) -> None:
    """NAME waits for idle on the tmux server at SOCKET, or the kitty a kitty key names (a mark already
    there is kept, and its time)."""
    socket = _norm(socket)
    old = read_mark(home, name)
    if old is not None and old["server"] == socket:
        return
    files = SessionFiles.of(home, name)
    paths.ensure_dir(files.dir)
    paths.atomic_write(files.waiting, json.dumps({"server": socket, "since": time.time()}).encode())


def unmark(home: StrPath, name: str) -> None:
    try:
        paths.unlink_durable(SessionFiles.of(home, name).waiting)
    except FileNotFoundError:
        pass


def marked(home: StrPath, socket: str, seen: dict | None = None) -> dict[str, dict]:
    """Every session marked for the server at SOCKET: name -> mark.

    SEEN (kept by the caller between calls) spares reading a mark that did not change: each
    poll costs one listing of the sessions directory and one stat per session."""
    seen = {} if seen is None else seen
    found, top = {}, sessions_dir(home)
    for name in paths.list_dir(top):
        try:
            st = os.stat(os.path.join(top, name, "waiting.json"))
        except OSError:
            continue  # not waiting
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if name not in seen or seen[name][0] != stamp:
            try:
                seen[name] = (stamp, read_mark(home, name))
            except Exception:  # noqa: BLE001 - an unsafe or bad name: not ours to serve
                continue
        m = seen[name][1]
        if m is not None and m["server"] == socket:
            found[name] = m
    return found


# ---------------------------------------------------------------- starting it
def start_watcher(home: StrPath, socket: str) -> bool:
    """Start the watcher of the tmux server at SOCKET (or of a kitty key), detached, unless one runs;
    True when started."""
    if live_watcher(home, socket):
        return False
    background.spawn(home, ["-m", "termbridge.watcher", _norm(socket)])
    return True


def run_watcher(home: StrPath, socket: str) -> str:
    """Serve every session marked for the server at SOCKET until none is left; returns why it stopped."""
    home, socket = Path(home), _norm(socket)
    paths.ensure_dir(watchers_dir(home))
    lock = paths.state_lock(watchers_dir(home) / f"{server_key(socket)}.lock", timeout=LOCK_WAIT_S)
    try:
        lock.acquire()
    except Exception:  # noqa: BLE001 - another watcher holds it: that one does the job
        return "another watcher runs"
    me = os.getpid()
    info = {"pid": me, "start": proctree.start_time(me), "since": time.time(), "socket": socket}
    try:
        if not marked(home, socket):
            return "nothing pending"  # started by a send whose session another watcher has served since
        try:
            w = (KittyWatcher if socket.startswith(KITTY) else Watcher)(home, socket, info)
        except Exception as e:  # noqa: BLE001 - e.g. a kitty address that is no address: no one waits here
            return _give_up(home, socket, f"cannot watch {socket}: {e}"[:200])
        paths.atomic_write(_info(home, socket), json.dumps(info).encode())
        events.log_event(home, "watcher_started", None, pid=me, server=socket)
        reason = "crashed"
        try:
            reason = w.run()
        finally:
            w.close(reason)
            paths.unlink_durable(_info(home, socket))
            events.log_event(home, "watcher_exit", None, pid=me, server=socket, reason=reason)
        return reason
    finally:
        lock.release()


def _give_up(home: Path, socket: str, why: str) -> str:
    """No watcher can run for SOCKET: each session marked for it gets its own waiter instead."""
    from termbridge import session_waiter

    for name in marked(home, socket):
        unmark(home, name)
        events.log_event(home, "waiter_exit", name, pid=os.getpid(), reason=why)
        session_waiter.start_waiter(home, name)
    return why


# ---------------------------------------------------------------- the watcher
class _Served:
    """One marked session as the watcher follows it."""

    __slots__ = (
        "ctx",
        "since",
        "announced",
        "pid",
        "chain",
        "chain_at",
        "pane",
        "target",
        "sig",
        "hot",
        "due",
        "spec",
        "job",
    )

    def __init__(self, ctx: SessionContext, since: float):
        self.ctx, self.since = ctx, since
        self.announced = False  # waiter_started logged
        self.pid: int | None = None
        self.chain: list[int] = []
        self.chain_at = -1e9
        self.pane: int | None = None  # the pane pid hosting it on this server
        self.target: Any = None  # the kitty window hosting it (KittyWatcher)
        self.sig: Any = None  # the pane's listing (a kitty window's text) when its screen was last judged
        self.hot = True  # judge its screen next poll whatever the listing says
        self.due = 0.0  # its next check of state and screen (monotonic)
        self.spec: dict | None = None  # the kind's screen patterns (its busy markers)
        self.job: Any = None  # the delivery running in a thread


class Watcher:
    def __init__(self, home: StrPath, socket: str, info: dict):
        self.home, self.socket, self.info = home, socket, info
        self.me = info["pid"]
        self.served: dict[str, _Served] = {}
        self.pool: Any = None
        self.seen: dict = {}  # marks read, by file stamp

    # -------------------------------------------------------- the loop
    def run(self) -> str:
        while True:
            self._adopt(marked(self.home, self.socket, self.seen))
            if not self.served:
                # Leave only once a last look after un-announcing finds nothing: a `send` that saw
                # this watcher alive marked its session before it looked.
                paths.unlink_durable(_info(self.home, self.socket))
                if not marked(self.home, self.socket):
                    return "nothing pending"
                paths.atomic_write(_info(self.home, self.socket), json.dumps(self.info).encode())
                continue
            self.poll()
            time.sleep(POLL_S)

    def close(self, reason: str) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)  # a delivery under way finishes (a kill would leave it claimed)
        for name, sv in self.served.items():
            if sv.announced:
                events.log_event(self.home, "waiter_exit", name, pid=self.me, reason=f"watcher stopped: {reason}")

    def _adopt(self, marks: dict[str, dict]) -> None:
        for name, m in marks.items():
            if name not in self.served:
                try:
                    self.served[name] = _Served(SessionContext(self.home, name), float(m["since"]))
                except Exception:  # noqa: BLE001 - a name the map refuses: not a session
                    continue
        for name in [n for n in self.served if n not in marks and self.served[n].job is None]:
            # Its mark went (its directory removed) or names another server now (handed over).
            self._end(name, "no longer marked for this server", unmark_it=False)

    def _listing(self) -> dict | None:
        """This poll's listing of the server: pane pid -> pane (tmux_panes.list_panes)."""
        from termbridge import tmux_panes
        from termbridge.errors import TmuxError

        try:
            return tmux_panes.list_panes(self.socket)
        except TmuxError:
            return None  # a server that does not answer now: its sessions are checked as due

    def poll(self) -> None:
        panes = self._listing()
        now = time.monotonic()
        look: list[str] = []
        for name in list(self.served):
            try:
                if self._step(name, self.served[name], panes, now):
                    look.append(name)
            except Exception as e:  # noqa: BLE001 - one session's trouble never stops the others
                self._fail(name, e)
        if look and panes is not None:
            self._look(look, panes)

    def _step(self, name: str, sv: _Served, panes: dict | None, now: float) -> bool:
        """One session's part of a poll; True when its screen is to be read."""
        if sv.job is not None:
            if sv.job.done():
                self._finished(name, sv)
            return False
        if now >= sv.due:
            if self._ended(name, sv):
                return False
            sv.hot = True
        pane = self._locate(name, sv, panes, now)
        if pane is None or name not in self.served:
            return False
        return self._wants(sv, pane)

    def _wants(self, sv: _Served, pane) -> bool:
        """Whether PANE's screen is to be read this poll: its listing changed, or it is due."""
        if pane.mode is not None:  # a pane mode is `working`: wait for the listing to change
            sv.sig, sv.hot = pane.signature, False
            return False
        return sv.hot or pane.signature != sv.sig

    def _fail(self, name: str, e: Exception) -> None:
        """A session whose state cannot be read (an unsafe directory, a corrupt record): its wait ends
        here with the error; its messages stay queued for the next send, hook or drain."""
        if name in self.served:
            self._end(name, f"error: {type(e).__name__}: {e}"[:200])

    def _look(self, names: list[str], panes: dict) -> None:
        from termbridge import tmux_panes
        from termbridge.errors import TmuxError
        from termbridge.surface import busy_marker

        by_name = {n: panes[self.served[n].pane] for n in names}
        try:
            shown = tmux_panes.screens(self.socket, [p.pane_id for p in by_name.values()], styled=False)
        except TmuxError:
            shown = {}  # a pane went between the listing and the read: judged one by one below
        for name, pane in by_name.items():
            sv = self.served[name]
            screen = shown.get(pane.pane_id)
            lines = screen.text.rstrip("\n").split("\n") if screen is not None else None
            if lines is not None and sv.spec is not None and busy_marker(lines, sv.spec):
                sv.sig, sv.hot = pane.signature, False  # a busy marker anywhere: never idle, never `ours`
                continue
            try:
                self._judge(name, sv, pane)
            except Exception as e:  # noqa: BLE001 - one session's trouble never stops the others
                self._fail(name, e)

    def _judge(self, name: str, sv: _Served, pane) -> None:
        """The per-session waiter's step: its state, one sample, and the delivery when idle or `ours`."""
        from termbridge import idle_delivery, surface
        from termbridge.errors import TermbridgeError

        sv.sig, sv.hot = pane.signature, False
        if self._ended(name, sv):
            return
        ctx = sv.ctx
        if idle_delivery.backing_off(ctx) > 0:
            sv.hot = True
            return
        try:
            s = surface.read_surface(self.home, ctx.session, pane.target, sample=False, cfg=ctx.cfg)
        except TermbridgeError:
            sv.hot = True  # the pane stopped answering: look again
            return
        if s.kind in ("idle", "ours"):
            self._deliver(sv)
        elif s.kind == "working":
            sv.hot = True  # a hook's fresh busy mark the screen has not yet outlived: look again

    def _deliver(self, sv: _Served) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from termbridge import idle_delivery

        if self.pool is None:
            self.pool = ThreadPoolExecutor(MAX_DELIVERIES, thread_name_prefix="deliver")
        sv.job = self.pool.submit(idle_delivery.deliver, sv.ctx)

    def _finished(self, name: str, sv: _Served) -> None:
        from termbridge import idle_delivery

        job, sv.job = sv.job, None
        sv.hot, sv.due = True, 0.0  # its state is looked at again at once
        try:
            outcome = job.result()
        except Exception:  # noqa: BLE001 - busy, unconfirmed, a terminal that failed: look again
            return
        if outcome == "nudged":
            self._end(name, idle_delivery.NUDGED)

    # -------------------------------------------------------- one session's state
    def _ended(self, name: str, sv: _Served) -> bool:
        """Check the session's own state; end its wait (True) when it needs none."""
        from termbridge import idle_delivery

        sv.due = time.monotonic() + CHECK_EVERY_S
        why = idle_delivery.ended(sv.ctx, sv.since)
        if why == "nothing pending":
            # Unmark, then look once more: a `send` that found the mark in place queued before it looked.
            unmark(self.home, name)
            if idle_delivery.ended(sv.ctx, sv.since) is None:
                mark(self.home, name, self.socket)
                return False
        if why:
            self._end(name, why, unmark_it=why != "nothing pending")
            return True
        sess = sv.ctx.session
        if sv.pid != sess.pid:  # registered again: another process, another pane, maybe another kind
            sv.pid, sv.chain_at, sv.pane, sv.spec = sess.pid, -1e9, None, None
        if sv.spec is None:
            from termbridge.surface import kind_spec

            sv.spec = kind_spec(sess.kind, sv.ctx.cfg)
        if not sv.announced:
            sv.announced = True
            events.log_event(self.home, "waiter_started", name, pid=self.me, server=self.socket)
        return False

    def _end(self, name: str, why: str, unmark_it: bool = True) -> None:
        sv = self.served.pop(name)
        if unmark_it:
            unmark(self.home, name)
        if sv.announced or why not in ("nothing pending", "session unregistered"):
            events.log_event(self.home, "waiter_exit", name, pid=self.me, reason=why)

    def _locate(self, name: str, sv: _Served, panes: dict | None, now: float):
        """The pane of this server hosting the session, from this poll's listing; None while there is none.

        The chain from the session's pid up is walked again every RESOLVE_EVERY_S; a session
        whose target is elsewhere (another tmux server, kitty, the PTY wrapper) is handed to
        whatever waits there."""
        if now - sv.chain_at < RESOLVE_EVERY_S:
            if panes is not None and sv.pane in panes:
                return panes[sv.pane]
            if sv.pane is None or panes is None:
                return None  # looked for lately and not found, or no server now: not before the next walk
        if sv.pid is None:
            sv.pid = sv.ctx.session.pid
        sv.chain, sv.chain_at, sv.pane = proctree.ancestor_chain(sv.pid), now, None
        if not sv.chain:
            sv.due = 0.0  # the process is gone: its state says so on this poll
            return None
        if panes is not None:
            from termbridge import targets

            idx = targets.HostIndex(self.home)
            idx.add(("pty", ""))  # a `termbridge run` wrapper in a pane is nearer than the pane: not ours
            for pid, p in panes.items():
                idx.hosts.setdefault(pid, p.target)
            idx.servers |= {p.target.info["server_pid"] for p in panes.values() if p.target.info.get("server_pid")}
            tgt, proven = idx.nearest(sv.chain)
            if tgt is not None and proven and tgt.backend == "tmux":
                sv.pane = tgt.host_pid
                return panes[sv.pane]
        tgt = self._elsewhere(name, sv)
        if tgt is not None and panes is not None and tgt.host_pid in panes:
            sv.pane = tgt.host_pid  # here after all (a terminal server in its chain made the proof longer)
            return panes[sv.pane]
        return None

    def _elsewhere(self, name: str, sv: _Served):
        """Where the session is, when not provably on this server: its Target when it is here after
        all; else it is handed to whatever waits where it is (None)."""
        from termbridge import targets
        from termbridge.errors import TermbridgeError

        try:
            tgt = targets.resolve_session(self.home, sv.ctx.session, log_failure=False)
        except TermbridgeError:
            return None  # no target anywhere now (a server restarting, a pane being made): look again later
        key = watcher_for(tgt)
        if key == self.socket:
            return tgt
        self._end(name, f"handed over: its target is {tgt.target}", unmark_it=True)
        if key is not None:
            mark(self.home, name, key)
            start_watcher(self.home, key)
        else:
            from termbridge import session_waiter

            session_waiter.start_waiter(self.home, name)
        return None


def watcher_for(tgt) -> str | None:
    """The key of the watcher that waits at TGT (its tmux server, its kitty); None for a PTY wrapper,
    whose session's own waiter watches it."""
    if tgt.backend == "tmux" and tgt.info.get("socket"):
        return os.path.abspath(str(tgt.info["socket"]))
    if tgt.backend == "kitty" and tgt.info.get("address"):
        return kitty_key(str(tgt.info["address"]))
    return None


class _Window:
    """A kitty window as KittyWatcher's `_judge` reads it (the shape of a tmux pane's listing)."""

    __slots__ = ("target", "signature")

    def __init__(self, target, signature: str):
        self.target, self.signature = target, signature


class KittyWatcher(Watcher):
    """The watcher of one kitty, keyed kitty:<address> (see the module docstring)."""

    def __init__(self, home: StrPath, socket: str, info: dict):
        from termbridge.kitty_rc import parse_address

        super().__init__(home, socket, info)
        self.address = socket[len(KITTY) :]
        parse_address(self.address)  # KittyError for one that is no address: run_watcher gives up at once
        self._index: Any = None  # targets.HostIndex of this kitty's windows, and when it was listed
        self._index_at = -1e9

    def _listing(self) -> dict:
        return {}  # no listing of changes to be had: each window is located on its own (_locate)

    def _wants(self, sv: _Served, pane) -> bool:
        return True  # every poll reads the window's text; _look passes over an unchanged one

    def _locate(self, name: str, sv: _Served, panes: dict | None, now: float):
        """The window of this kitty hosting the session: its pid chain is walked again every
        RESOLVE_EVERY_S and looked up in this kitty's windows (one `ls` a second at most, shared);
        a session found elsewhere is handed to whatever waits there."""
        if now - sv.chain_at < RESOLVE_EVERY_S:
            return sv.target
        if sv.pid is None:
            sv.pid = sv.ctx.session.pid
        sv.chain, sv.chain_at, sv.target = proctree.ancestor_chain(sv.pid), now, None
        if not sv.chain:
            sv.due = 0.0  # the process is gone: its state says so on this poll
            return None
        if now - self._index_at >= 1.0:
            from termbridge import targets

            self._index, self._index_at = targets.HostIndex(self.home), now
            self._index.add(("pty", ""))  # a `termbridge run` wrapper in a window is nearer than the window
            self._index.add(("kitty", self.address))
        tgt, proven = self._index.nearest(sv.chain)
        if tgt is not None and proven and tgt.backend == "kitty":
            sv.target = tgt
        else:
            sv.target = self._elsewhere(name, sv)
        return sv.target

    def _look(self, names: list[str], panes: dict) -> None:
        from termbridge.kitty_rc import KittyClient
        from termbridge.surface import busy_marker

        for name in names:
            sv = self.served[name]
            try:
                # A client each time, on the window's own address, as every delivery makes one: with
                # two kitty instances on one unsuffixed address each picks the same (newest) socket.
                text = KittyClient(sv.target.info["address"]).get_text(int(sv.target.info["window_id"]))
            except Exception:  # noqa: BLE001 - the window went, or kitty did: find it again next poll
                sv.hot, sv.chain_at = True, -1e9
                continue
            if sv.spec is not None and busy_marker(text.rstrip("\n").split("\n"), sv.spec):
                sv.sig, sv.hot = text, False  # a busy marker anywhere: never idle, never `ours`
                continue
            if not sv.hot and text == sv.sig:
                continue  # the very screen it was judged on
            try:
                self._judge(name, sv, _Window(sv.target, text))
            except Exception as e:  # noqa: BLE001 - one session's trouble never stops the others
                self._fail(name, e)


def main(argv: list[str] | None = None) -> int:
    """`python -m termbridge.watcher SOCKET` (what start_watcher runs, detached)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        return 2
    run_watcher(paths.state_home(), args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
