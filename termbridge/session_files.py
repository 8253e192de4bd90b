"""The map of a session's directory: the one place every per-session file is named.

    <state home>/sessions/<name>/
      session.json        the registry entry (registry.py)
      pending.log         queued messages, one JSON record a line (outbox.py)
      claims/             messages a delivery holds right now (outbox.py)
      ledger.log          ids delivered (outbox.py)
      dead.log            dead letters (outbox.py)
      outbox.lock         the outbox's lock (outbox.py)
      receipts.log        submitted / received receipts (receipts_log.py)
      record.json         the session's own record: transcript, rollout, chat (record.py)
      delivery.json       the delivery back-off (context.py)
      deliver.lock        held from reading the screen to confirming the Enter (context.py)
      typed.json          text termbridge typed and has not seen submitted (surface.py)
      wake.json           the wake debounce stamp (wake.py)
      wake.lock           one wake evaluation at a time (wake.py)
      waiter.json         the per-session idle waiter's pid (session_waiter.py)
      waiter.lock         held by the one per-session idle waiter for its whole life (session_waiter.py)
      waiting.json        marked for its tmux server's or kitty's watcher: {"server", "since"} (watcher.py)
      mark.json           busy / idle as the hooks saw it (idle.py)
      screen-idle.json    the screen-idle mark (idle.py)
      stop_hook.json      the Stop hook's consecutive-block budget (hooks.py)
      mcp-register.lock   one registration at a time, hooks and MCP (registry.register_agent)
      dialog_hold.json    a dialog holding messages, as last seen (attention.py)
      forwarded_in.log    ids taken from another host's forwarder, exactly once (rpc.py)
      forwarded_in.lock   one take at a time (rpc.py)
      questions/          one file per question put to this session, and their lock (answers.py)
      turn_questions.json the questions the agent's current turn received (answers.py)

These names are a file format: state written by an earlier release is read by the next, so a
name never changes. Bottom layer: only `paths` below it.
"""

from __future__ import annotations

import os

from termbridge.paths import validate_name

TYPE_CHECKING = False  # no `typing` (nor pathlib) at run time on send's hot path (kinds.py)
if TYPE_CHECKING:
    from termbridge.paths import StrPath


def sessions_dir(home: StrPath) -> str:
    """Where every session's directory lives."""
    return os.path.join(home, "sessions")


def session_dir(home: StrPath, name: str) -> str:
    """The per-session state directory (NAME validated)."""
    return os.path.join(sessions_dir(home), validate_name(name))


class _File:
    """A file (or directory) of the session's directory, by name: a str path, as every path on
    send's hot path is (pathlib is not imported there); wrap it in a Path where one helps."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __get__(self, files: SessionFiles | None, owner: type | None = None) -> str:
        if files is None:
            return self  # type: ignore[return-value]  # on the class: the descriptor itself (help(), introspection)
        return files.dir + "/" + self.name


class SessionFiles:
    """Every file of one session's directory, by what it holds (see the module's map)."""

    __slots__ = ("dir",)

    def __init__(self, directory: StrPath):
        self.dir = os.fspath(directory)

    @classmethod
    def of(cls, home: StrPath, name: str) -> SessionFiles:
        return cls(session_dir(home, name))

    # the registry
    session = _File("session.json")
    register_lock = _File("mcp-register.lock")
    # the outbox
    pending = _File("pending.log")
    claims = _File("claims")
    ledger = _File("ledger.log")
    dead = _File("dead.log")
    outbox_lock = _File("outbox.lock")
    # receipts and the session's own record
    receipts = _File("receipts.log")
    record = _File("record.json")
    # delivery
    backoff = _File("delivery.json")
    deliver_lock = _File("deliver.lock")
    typed = _File("typed.json")
    wake = _File("wake.json")
    wake_lock = _File("wake.lock")
    waiter = _File("waiter.json")
    waiter_lock = _File("waiter.lock")
    waiting = _File("waiting.json")
    # marks the hooks and the screen leave
    mark = _File("mark.json")
    screen_idle = _File("screen-idle.json")
    stop_hook = _File("stop_hook.json")
    dialog_hold = _File("dialog_hold.json")
    # messages forwarded in from another host
    forwarded_in = _File("forwarded_in.log")
    forwarded_in_lock = _File("forwarded_in.lock")
    # questions (termbridge ask)
    questions = _File("questions")
    turn_questions = _File("turn_questions.json")
