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
      waiting.json        marked for its tmux server's watcher: {"server", "since"} (watcher.py)
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

from pathlib import Path

from termbridge.paths import validate_name


def sessions_dir(home: Path | str) -> Path:
    """Where every session's directory lives."""
    return Path(home) / "sessions"


def session_dir(home: Path | str, name: str) -> Path:
    """The per-session state directory (NAME validated)."""
    return sessions_dir(home) / validate_name(name)


class SessionFiles:
    """Every file of one session's directory, by what it holds (see the module's map)."""

    __slots__ = ("dir",)

    def __init__(self, directory: Path):
        self.dir = directory

    @classmethod
    def of(cls, home: Path | str, name: str) -> SessionFiles:
        return cls(session_dir(home, name))

    # the registry
    session = property(lambda self: self.dir / "session.json")
    register_lock = property(lambda self: self.dir / "mcp-register.lock")
    # the outbox
    pending = property(lambda self: self.dir / "pending.log")
    claims = property(lambda self: self.dir / "claims")
    ledger = property(lambda self: self.dir / "ledger.log")
    dead = property(lambda self: self.dir / "dead.log")
    outbox_lock = property(lambda self: self.dir / "outbox.lock")
    # receipts and the session's own record
    receipts = property(lambda self: self.dir / "receipts.log")
    record = property(lambda self: self.dir / "record.json")
    # delivery
    backoff = property(lambda self: self.dir / "delivery.json")
    deliver_lock = property(lambda self: self.dir / "deliver.lock")
    typed = property(lambda self: self.dir / "typed.json")
    wake = property(lambda self: self.dir / "wake.json")
    wake_lock = property(lambda self: self.dir / "wake.lock")
    waiter = property(lambda self: self.dir / "waiter.json")
    waiter_lock = property(lambda self: self.dir / "waiter.lock")
    waiting = property(lambda self: self.dir / "waiting.json")
    # marks the hooks and the screen leave
    mark = property(lambda self: self.dir / "mark.json")
    screen_idle = property(lambda self: self.dir / "screen-idle.json")
    stop_hook = property(lambda self: self.dir / "stop_hook.json")
    dialog_hold = property(lambda self: self.dir / "dialog_hold.json")
    # messages forwarded in from another host
    forwarded_in = property(lambda self: self.dir / "forwarded_in.log")
    forwarded_in_lock = property(lambda self: self.dir / "forwarded_in.lock")
    # questions (termbridge ask)
    questions = property(lambda self: self.dir / "questions")
    turn_questions = property(lambda self: self.dir / "turn_questions.json")
