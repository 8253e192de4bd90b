"""The session context and the map of a session's directory (context.py, session_files.py), in
process: no tmux, no CLI. The names on disk are a file format (0.2 state must still be read)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from termbridge import paths, registry, session_files
from termbridge.context import SessionContext
from termbridge.errors import NameHeld, UnknownSession
from termbridge.session_files import SessionFiles

pytestmark = pytest.mark.fast  # no tmux, no terminal: the unit loop (`pytest -m fast`)

# Every per-session file as 0.2 wrote it: a rename would orphan state on upgrade.
NAMES_02 = {
    "session": "session.json",
    "register_lock": "mcp-register.lock",
    "pending": "pending.log",
    "claims": "claims",
    "ledger": "ledger.log",
    "dead": "dead.log",
    "outbox_lock": "outbox.lock",
    "receipts": "receipts.log",
    "record": "record.json",
    "backoff": "delivery.json",
    "deliver_lock": "deliver.lock",
    "typed": "typed.json",
    "wake": "wake.json",
    "wake_lock": "wake.lock",
    "waiter": "waiter.json",
    "waiter_lock": "waiter.lock",
    "mark": "mark.json",
    "screen_idle": "screen-idle.json",
    "stop_hook": "stop_hook.json",
    "dialog_hold": "dialog_hold.json",
}


def test_every_session_file_keeps_its_02_name(home):
    files = SessionFiles.of(home, "a")
    assert files.dir == str(home / "sessions" / "a")
    assert {k: Path(getattr(files, k)).name for k in NAMES_02} == NAMES_02
    assert all(str(Path(getattr(files, k)).parent) == files.dir for k in NAMES_02)
    assert all(n in (session_files.__doc__ or "") for n in NAMES_02.values())  # the module's map names every one


def test_the_map_refuses_a_bad_name(home):
    from termbridge.errors import BadInput

    for bad in ("..", "a/b", ""):
        with pytest.raises(BadInput):
            SessionContext(home, bad)


def test_the_session_is_looked_up_once_and_refresh_reads_it_again(home):
    ctx = SessionContext(home, "a")
    with pytest.raises(UnknownSession):
        _ = ctx.session
    registry.register(home, "a", os.getpid(), "codex")
    first = ctx.session
    assert first.kind == "codex"
    registry.register(home, "a", os.getpid(), "claude")
    assert ctx.session is first  # no second lookup within one command
    assert ctx.refresh().kind == "claude"
    assert ctx.outbox is ctx.outbox  # one Outbox per context


def test_backoff_doubles_and_clears(home):
    ctx = SessionContext(home, "a", cfg=dict(_cfg(), backoff_base_ms=1000, backoff_max_ms=3000))
    assert ctx.read_backoff() == {}
    paths.ensure_dir(ctx.dir)  # made by the delivery lock before any outcome is recorded
    assert ctx.record_outcome(ok=False, error="x")["failures"] == 1
    st = ctx.record_outcome(ok=False, error="y")
    assert st["failures"] == 2 and st["last_error"] == "y"
    assert ctx.read_backoff()["failures"] == 2
    ctx.record_outcome(ok=True)
    assert ctx.read_backoff() == {}
    paths.atomic_write(ctx.files.backoff, b'{"failures": true, "next_at": 1}')
    assert ctx.read_backoff() == {}  # damaged: no back-off, never a crash


def test_an_impatient_outbox_claims_briefly_and_settles_patiently(home):
    ctx = SessionContext(home, "a")
    assert not ctx.outbox.maybe_pending()
    rec = ctx.outbox.append("hello")
    assert ctx.outbox.maybe_pending()
    quick = ctx.outbox.impatient(0.15)
    assert quick.cfg["lock_timeout_s"] == 0.15 and ctx.cfg["lock_timeout_s"] != 0.15
    with quick.delivering() as d:
        assert d is not None and d.ids == [rec["id"]]
        assert d.box is ctx.outbox  # commit and release wait as long as any drain
        d.commit("hook")
    assert not ctx.outbox.has_pending() and rec["id"] in ctx.outbox.delivered_ids()


def test_register_agent_does_not_take_a_live_name(home, sleeper):
    other = sleeper()
    registry.register(home, "a", other.pid, "claude")
    with pytest.raises(NameHeld) as e:
        registry.register_agent(home, "a", os.getpid(), "codex", "mcp", wanted="pull")
    assert e.value.old.pid == other.pid and "belongs to another live process" in str(e.value)
    # the registering process's own ancestor holds it: taken over (a hook run by that agent)
    sess = registry.register_agent(home, "a", os.getpid(), "claude", "hook", mine={other.pid})
    assert (sess.pid, sess.delivery, sess.delivery_by) == (os.getpid(), "push", "user")  # a person's choice kept
    registry.register(home, "a", os.getpid(), "claude", delivery_by="hook")
    # the same agent again by MCP: a hooked agent stays push
    again = registry.register_agent(home, "a", os.getpid(), "claude", "mcp", wanted="pull")
    assert (again.delivery, again.delivery_by) == ("push", "hook")
    registry.unregister(home, "a")
    fresh = registry.register_agent(home, "a", os.getpid(), "claude", "mcp", wanted="pull")
    assert (fresh.delivery, fresh.delivery_by) == ("pull", "mcp")


def _cfg() -> dict:
    from termbridge.config import load_config

    return dict(load_config())
