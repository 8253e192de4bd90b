"""Resolution: the verified target is the terminal whose root process is the session PID or
its nearest ancestor. Found fresh every time; self-reported pane ids and $TMUX_PANE are never used.

It does not depend on the caller: the session's registered tmux server and kitty socket,
the caller's, and this user's other tmux servers are all looked at (in that order, until
the PID chain is proven)."""

from __future__ import annotations

import copy
import itertools
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from termbridge import proctree, registry, tmux_cmd
from termbridge.backends import BACKENDS, Target, backend
from termbridge.errors import BackendError, NoTarget

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath


def backend_module(name: str):
    """The backend module NAME (see termbridge.backends.Backend)."""
    return backend(name)


class HostIndex:
    """The terminal hosts found so far, listed one source at a time and each source once.

    A source is ("pty", ""), ("tmux", socket path) or ("kitty", address). Resolution lists
    the sources most likely to hold a session first (its registered server, then the
    caller's) and stops as soon as its PID chain is proven, so the common case costs one
    `list-panes`; this user's other tmux servers are listed only when those did not prove
    it. One index may serve several resolutions (status, drain --pane).
    """

    def __init__(self, home: StrPath, env: Mapping[str, str] | None = None):
        self.home = Path(home)
        self.env = os.environ if env is None else env
        self.hosts: dict[int, Target] = {}
        self.servers: set[int] = set()  # pids of the tmux servers listed so far
        self._listed: set = set()
        self._caller: list[tuple[str, str]] | None = None

    def add(self, src: tuple[str, str], errors: list[Exception] | None = None) -> None:
        """List SRC once; its failure goes to ERRORS (or is skipped quietly when ERRORS is None)."""
        backend, where = src
        key = ("tmux", tmux_cmd.socket_key(where)) if backend == "tmux" else src
        if key in self._listed or key == ("tmux", None):  # None: no socket of ours there
            return
        self._listed.add(key)
        mod = backend_module(backend)
        try:
            if backend == "tmux":
                # A server we were not told about gets a short leash: it must not stall every resolve.
                found = mod.list_hosts(self.home, self.env, socket=where, timeout=5.0 if errors is not None else 2.0)
            elif backend == "kitty":
                found = mod.list_hosts(self.home, self.env, addr=where)
            else:
                found = mod.list_hosts(self.home, self.env)
        except BackendError as e:
            if errors is not None:
                errors.append(e)
            return
        for hpid, tgt in found.items():
            self.hosts.setdefault(hpid, tgt)
            if tgt.info.get("server_pid"):
                self.servers.add(tgt.info["server_pid"])

    def caller_sources(self) -> list[tuple[str, str]]:
        """The caller's own terminals: PTY wrappers, its tmux server, its kitty."""
        if self._caller is None:
            from termbridge.backends.kitty import address

            self._caller = [("pty", "")]
            sock, addr = tmux_cmd.socket_path(self.env), address(self.env)
            if sock:
                self._caller.append(("tmux", sock))
            if addr:
                self._caller.append(("kitty", addr))
        return self._caller

    def session_sources(self, sess: registry.Session | None) -> list[tuple[str, str]]:
        """Where SESS was registered, then the caller's terminals."""
        out: list[tuple[str, str]] = [("pty", "")]
        if sess is not None and sess.tmux_socket:
            out.append(("tmux", sess.tmux_socket))
        if sess is not None and sess.kitty_socket:
            out.append(("kitty", sess.kitty_socket))
        return out + self.caller_sources()

    def other_servers(self) -> Iterator[tuple[str, str]]:
        """This user's other tmux servers (sockets in $TMUX_TMPDIR or /tmp, tmux-UID/)."""
        for sock in tmux_cmd.user_sockets(self.env):
            yield ("tmux", sock)

    def nearest(self, chain: list[int]) -> tuple[Target | None, bool]:
        """The nearest host in CHAIN listed so far, and whether no unlisted terminal could be nearer."""
        for i, p in enumerate(chain):
            if p in self.hosts:
                tgt = copy.copy(self.hosts[p])
                tgt.chain = chain[: i + 1]
                # A nearer host would be the child of a terminal server between the session and
                # this host (kitty started from a tmux pane, a tmux server run with -D): if one
                # is there that we have not listed, keep looking.
                proven = not any(q not in self.servers and _is_terminal_server(q) for q in chain[1 : i + 1])
                return tgt, proven
        return None, False

    def resolve(
        self, pid: int, sess: registry.Session | None = None, label: str = "", chain: list[int] | None = None
    ) -> Target:
        """The verified target hosting PID: nearest ancestor first, listing sources only until it is proven."""
        chain = proctree.ancestor_chain(pid) if chain is None else chain
        if not chain:
            raise NoTarget(f"{label or f'pid {pid}'}: process is not running")
        errors: list[Exception] = []
        known = self.session_sources(sess)
        for i, src in enumerate(itertools.chain(known, self.other_servers())):
            tgt, proven = self.nearest(chain)
            if proven and tgt is not None:  # proven implies a target: the check is for the type
                return tgt
            self.add(src, errors if i < len(known) else None)  # other servers: skipped quietly
        tgt, _ = self.nearest(chain)
        if tgt is not None:
            return tgt
        if errors:
            raise errors[0]  # a server we were told about failed: we cannot say the PID has no target
        raise NoTarget(f"{label or f'pid {pid}'}: no tmux pane, kitty window or termbridge PTY hosts pid {pid}")


def _is_terminal_server(pid: int) -> bool:
    """PID is a tmux server or a kitty (its children are panes or windows)."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            comm = f.read().strip()
    except OSError:
        return False
    return comm.startswith(b"tmux: server") or comm == b"kitty"


def resolve_pid(
    home: StrPath,
    pid: int,
    env: Mapping[str, str] | None = None,
    label: str = "",
    sess: registry.Session | None = None,
    index: HostIndex | None = None,
) -> Target:
    """The verified target hosting PID, nearest ancestor first; NoTarget (exit 3) if none."""
    return (index or HostIndex(home, env)).resolve(pid, sess, label)


def resolve_session(
    home: StrPath,
    sess: registry.Session,
    env: Mapping[str, str] | None = None,
    log_failure: bool = True,
    index: HostIndex | None = None,
) -> Target:
    """The verified target of a live session (DeadSession if its PID died or was reused).

    Looks where the session was registered, where the caller is, and on this user's
    other tmux servers. A failure is logged as a `resolve_failed` event unless
    LOG_FAILURE is False (for read-only observers such as status and doctor).
    """
    try:
        registry.require_alive(sess)
        tgt = resolve_pid(home, sess.pid, env, label=f"session {sess.name!r}", sess=sess, index=index)
        registry.require_alive(sess)  # re-check: the PID must not have been reused while we looked
    except NoTarget as e:
        if log_failure:
            from termbridge.events import log_event

            log_event(home, "resolve_failed", sess.name, error=str(e))
        raise
    return tgt


def session_at(home: StrPath, spec: str, env: Mapping[str, str] | None = None) -> str | None:
    """The registered session whose verified target is SPEC, a pane on the caller's own tmux server
    ('%3', 'tmux:%3'), a kitty window ('kitty:…:7') or 'pty:NAME'; None if it hosts none."""
    want = normalize_target(spec)
    idx = HostIndex(home, env)
    errors: list[Exception] = []
    sources = list(idx.caller_sources())
    if want.startswith("kitty:"):
        from termbridge.backends.kitty import split_target

        parts = split_target(want)
        if parts:  # normalize_target only returns a well-formed kitty target: the check is for the type
            sources.append(("kitty", parts[0]))
    for src in sources:
        idx.add(src, errors)
    # Only the caller's server is listed yet, so a bare %N means the pane there.
    here = {hpid for hpid, t in idx.hosts.items() if t.target == want}
    if not here:
        if errors:
            raise errors[0]
        return None
    for sess in registry.all_sessions(home):
        chain = proctree.ancestor_chain(sess.pid) if sess.alive() else []
        if not here & set(chain):
            continue  # the pane is not in its chain: it cannot be its target
        try:
            tgt = idx.resolve(sess.pid, sess, chain=chain)
        except (NoTarget, BackendError):
            continue
        if tgt.host_pid in here:
            return sess.name
    return None


def normalize_target(spec: str, env: Mapping[str, str] | None = None) -> str:
    """Accept '%3', 'tmux:%3', 'kitty:<addr>:<id>', a kitty window id, 'pty:NAME'; return the public form
    (each backend parses its own; BadInput when none claims SPEC)."""
    from termbridge.errors import BadInput

    for name in BACKENDS:
        found = backend(name).parse_target(spec, env)
        if found:
            return found
    raise BadInput(f"invalid pane {spec!r}: expected %N, tmux:%N, kitty:<address>:<window-id> or pty:NAME")


def target_json(sess: registry.Session, tgt: Target) -> dict:
    return {
        "session": sess.name,
        "backend": tgt.backend,
        "target": tgt.target,
        "pid": sess.pid,
        "chain": tgt.chain,
        "tmux_socket": tgt.info.get("socket") if tgt.backend == "tmux" else None,
    }
