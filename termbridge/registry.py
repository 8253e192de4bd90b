"""Sessions: NAME -> PID, with the process start time so a reused PID is never followed."""

from __future__ import annotations

import json
import os
import time

from termbridge import paths, proctree
from termbridge.errors import BadInput, DeadSession, StateError, UnknownSession
from termbridge.kinds import DELIVERY_MODES, KINDS, LANES
from termbridge.session_files import SessionFiles, sessions_dir
from termbridge.session_files import session_dir as session_dir  # where the callers have long found it

TYPE_CHECKING = False  # no `typing` (nor pathlib) at run time on send's hot path (kinds.py)
if TYPE_CHECKING:
    from termbridge.paths import StrPath


class Session:
    """A registered session (a plain class: `dataclasses` costs ~7 ms of every hook's start-up)."""

    FIELDS = (
        "name",
        "pid",
        "start_time",
        "kind",
        "registered_at",
        "delivery",
        "tmux_socket",
        "kitty_socket",
        "delivery_by",
        "lane",
    )
    __slots__ = (*FIELDS, "_shell")

    def __init__(
        self,
        name: str,
        pid: int,
        start_time: str,
        kind: str,
        registered_at: float,
        delivery: str = "push",
        tmux_socket: str | None = None,
        kitty_socket: str | None = None,
        delivery_by: str = "user",
        lane: str = "auto",
    ):
        self.lane = lane  # "auto" | "terminal" | "native" (kinds.LANES; termbridge/lanes)
        self.name, self.pid, self.start_time, self.kind = name, pid, start_time, kind
        self.delivery_by = delivery_by  # who chose the delivery mode: "user", "hook" or "mcp" (delivery_for)
        self.registered_at = registered_at
        self.delivery = delivery  # "push" | "pull" (see kinds.DELIVERY_MODES)
        self.tmux_socket = tmux_socket  # the tmux server the agent was registered from, if any
        self.kitty_socket = kitty_socket  # the kitty remote-control address it was registered from, if any
        self._shell: bool | None = None  # is_shell(), read from /proc once per instance

    def is_shell(self) -> bool:
        """A person's shell: registered `--kind shell`, or `other` whose process is a shell. It never
        gets peer text typed, only the inert nudge (a shell would run the text as commands)."""
        if self._shell is None:
            if self.kind in ("shell", "other"):
                from termbridge.agents import is_shell

                self._shell = self.kind == "shell" or is_shell(self.pid)
            else:
                self._shell = False
        return self._shell

    def nudge_only(self) -> bool:
        """Only the wake nudge is ever typed (a shell, or a `pull` session that fetches its messages)."""
        return self.delivery == "pull" or self.is_shell()

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.FIELDS}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Session) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"Session({self.as_dict()!r})"

    def alive(self) -> bool:
        """The PID runs and is still the process that registered."""
        return proctree.is_alive(self.pid, self.start_time)

    def liveness(self) -> str:
        """'alive', 'dead' or 'reused' (the PID now belongs to another process)."""
        now = proctree.start_time(self.pid)
        if now is None:
            return "dead"
        return "alive" if now == self.start_time else "reused"


def delivery_for(old: Session | None, by: str, wanted: str = "push") -> tuple[str, str]:
    """The one registration policy for hooks and MCP: (delivery, chosen by) for a session
    registered BY "hook" or "mcp" over OLD (its earlier record, if any).

    A person's `register --delivery` choice is kept. An agent with hooks is `push`: its Stop
    hook hands over what arrives mid-turn and an idle drain types the rest, one turn a message;
    an MCP server alone makes it `pull` (nudge, then its `inbox` tool) -- but never turns a
    hooked agent into a pull one (that would cost a nudge turn and then a hand-over turn).
    """
    if old is not None and old.delivery_by == "user":
        return old.delivery, "user"
    if by == "hook":
        return "push", "hook"
    if old is not None and old.delivery_by == "hook" and old.liveness() == "alive":
        return old.delivery, "hook"
    return wanted, by


def register(
    home: StrPath,
    name: str,
    pid: int,
    kind: str = "other",
    delivery: str = "push",
    tmux_socket: str | None = None,
    kitty_socket: str | None = None,
    env=None,
    delivery_by: str = "user",
    lane: str | None = None,
) -> Session:
    """Record NAME -> PID (re-register replaces); the PID must be alive.

    Also records where the agent lives, so it is found from anywhere: TMUX_SOCKET and
    KITTY_SOCKET, else the registering environment's (ENV, default os.environ) tmux
    server and kitty address. LANE None keeps the lane of NAME's earlier record (a hook
    re-registering keeps a person's `register --lane`), else "auto".
    """
    paths.validate_name(name)
    if kind not in KINDS:
        raise BadInput(f"invalid kind {kind!r}: one of {', '.join(KINDS)}")
    if delivery not in DELIVERY_MODES:
        raise BadInput(f"invalid delivery mode {delivery!r}: one of {', '.join(DELIVERY_MODES)}")
    if lane is not None and lane not in LANES:
        raise BadInput(f"invalid lane {lane!r}: one of {', '.join(LANES)}")
    if pid <= 0:
        raise BadInput(f"invalid pid {pid}")
    token = proctree.start_time(pid)
    if token is None:
        raise DeadSession(f"pid {pid} is not running")
    if tmux_socket is None or kitty_socket is None:
        from termbridge.backends.kitty import address
        from termbridge.tmux_cmd import socket_path

        tmux_socket = tmux_socket or socket_path(env)
        kitty_socket = kitty_socket or address(env)
    if lane is None:
        try:
            lane = lookup(home, name).lane
        except (UnknownSession, StateError):
            lane = "auto"
    sess = Session(
        name, pid, token, kind, round(time.time(), 3), delivery, tmux_socket, kitty_socket, delivery_by, lane
    )
    files = SessionFiles.of(home, name)
    paths.ensure_dir(files.dir)
    paths.atomic_write(files.session, json.dumps(sess.as_dict()).encode())
    return sess


def register_agent(
    home: StrPath,
    name: str,
    pid: int,
    kind: str,
    by: str,
    wanted: str = "push",
    mine: frozenset[int] | set[int] = frozenset(),
    lock_timeout: float = 10.0,
    **where,
) -> Session:
    """The one registration policy for an agent that registers itself (BY "hook" or "mcp").

    Under the session's register lock (two agents starting at once for one name must not both
    take it): a name that another live process holds -- neither PID nor one of MINE (the
    registering process's ancestors) -- is not taken over (NameHeld, carrying that entry);
    the delivery mode is delivery_for()'s, from the earlier entry when it was this same agent
    or when a hook registers (a person's `register --delivery` choice survives the agent's
    restart); WHERE (tmux_socket, kitty_socket, env) is passed to register().
    """
    from termbridge.errors import NameHeld

    files = SessionFiles.of(home, name)
    paths.ensure_dir(files.dir)
    with paths.state_lock(files.register_lock, timeout=lock_timeout):
        try:
            old: Session | None = lookup(home, name)
        except (UnknownSession, StateError):
            old = None  # unknown, or a corrupt record that a fresh register replaces
        if old is not None and old.pid != pid and old.pid not in mine and old.liveness() == "alive":
            raise NameHeld(f"session name {name!r} belongs to another live process (pid {old.pid}, {old.kind})", old)
        prior = old if by == "hook" or (old is not None and old.pid == pid) else None
        delivery, chosen_by = delivery_for(prior, by, wanted)
        return register(home, name, pid, kind, delivery, delivery_by=chosen_by, **where)


def unregister(home: StrPath, name: str) -> None:
    """Forget NAME; its queued messages stay on disk for a later re-register."""
    path = SessionFiles.of(home, name).session
    if not os.path.lexists(path):
        raise UnknownSession(f"unknown session {name!r}")
    paths.unlink_durable(path)


def lookup(home: StrPath, name: str) -> Session:
    """The registered session NAME, or UnknownSession (exit 3)."""
    data = paths.read_bytes(SessionFiles.of(home, name).session)
    if data is None:
        raise UnknownSession(f"unknown session {name!r}")
    try:
        raw = json.loads(data)
        kind, delivery = raw["kind"], raw.get("delivery") or "push"
        tsock, ksock = raw.get("tmux_socket"), raw.get("kitty_socket")
        by = raw.get("delivery_by") or "user"
        lane = raw.get("lane") or "auto"  # files written before 0.3 have no lane
        if (
            kind not in KINDS
            or delivery not in DELIVERY_MODES
            or by not in ("user", "hook", "mcp")
            or lane not in LANES
            or not all(s is None or isinstance(s, str) for s in (tsock, ksock))
        ):
            raise ValueError("bad kind, delivery or socket")
        return Session(
            str(raw["name"]),
            int(raw["pid"]),
            str(raw["start_time"]),
            kind,
            float(raw["registered_at"]),
            delivery,
            tsock,
            ksock,
            by,
            lane,
        )
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
        raise StateError(f"corrupt session record for {name!r}") from None


def require_alive(sess: Session) -> Session:
    """SESS if its process still runs; DeadSession (exit 3) if it died or its PID was reused."""
    state = sess.liveness()
    if state == "dead":
        raise DeadSession(f"session {sess.name!r}: pid {sess.pid} is dead")
    if state == "reused":
        raise DeadSession(f"session {sess.name!r}: pid {sess.pid} now belongs to another process (reused)")
    return sess


def all_sessions(home: StrPath, refused: list[tuple[str, str]] | None = None) -> list[Session]:
    """Every registered session, by name. A session whose directory is unsafe (symlinked,
    foreign-owned) is skipped, never followed, and never fails the listing: with REFUSED,
    its (name, reason) is appended there."""
    d = sessions_dir(home)
    out = []
    for name in paths.list_dir(d):  # a symlinked or foreign sessions/ is refused, not listed
        if not paths.NAME_RE.fullmatch(name):
            continue
        try:
            paths.check_levels(os.path.join(d, name))  # before anything is read through it
            if not os.path.lexists(SessionFiles(os.path.join(d, name)).session):
                continue
            out.append(lookup(home, name))
        except UnknownSession:
            continue
        except StateError as e:
            if refused is not None and os.path.lexists(SessionFiles(os.path.join(d, name)).session):
                refused.append((name, str(e)))
            continue
    return out
