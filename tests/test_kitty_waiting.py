"""Waiting in kitty: one watcher per kitty (watcher.KittyWatcher) serves every window waiting
there, in a real kitty under Xvfb, with real demo agents in its windows."""

from __future__ import annotations

import os
import signal
import time

import pytest
from helpers import events_of, retry_until, tb, tb_json
from lab import PY, read_submissions

from termbridge import paths, session_waiter, watcher

pytestmark = pytest.mark.timeout(180)


def _agents(kitty, n: int) -> list[tuple[int, object]]:
    """N demo agents in N windows of KITTY (the first is its own window), registered a0..aN-1:
    [(window id, log path)]."""
    first = kitty.windows()[0]["id"]
    out = [(first, kitty.log)]
    for i in range(1, n):
        log = kitty.dir / f"agent{i}.log"
        out.append((kitty.launch([PY, "-m", "termbridge.demo_agent", "--log", str(log)]), log))
    by_id = {w["id"]: w for w in retry_until(lambda: len(kitty.windows()) == n and kitty.windows(), 15)}
    for i, (wid, _) in enumerate(out):
        retry_until(lambda wid=wid: "›" in kitty.client.get_text(wid), 15)
        tb("register", f"a{i}", "--pid", by_id[wid]["pid"], "--kind", "codex")
    return out


def _busy(kitty, wid: int, seconds: float) -> None:
    kitty.client.send_text(wid, f"/busy {seconds:g}")
    time.sleep(0.3)  # past the paste burst, as a person's Enter would be
    kitty.client.press_enter(wid)
    retry_until(lambda: "esc to interrupt" in kitty.client.get_text(wid), 10)


def _key(kitty) -> str:
    return watcher.kitty_key(kitty.address)


def _once(log, text: str) -> bool:
    return sum(text in s for s in read_submissions(log)) == 1


def test_one_watcher_per_kitty_serves_every_window_each_once(kitty):
    agents = _agents(kitty, 3)
    for wid, _ in agents:
        _busy(kitty, wid, 6)
    for i in range(3):
        assert tb_json("send", f"a{i}", f"for agent {i}", "--json")["wake"] == "skipped_busy"
    w = watcher.live_watcher(paths.state_home(), _key(kitty))
    assert w is not None
    rows = {r["name"]: r for r in tb_json("status", "--json")["sessions"]}
    assert {(rows[f"a{i}"]["waiter"] or {}).get("pid") for i in range(3)} == {w["pid"]}  # one process for all
    assert all(session_waiter.live_waiter(paths.state_home(), f"a{i}") is None for i in range(3))
    for _, log in agents:
        assert read_submissions(log) == ["/busy 6"]  # busy: nothing typed into a working agent
    for i, (_, log) in enumerate(agents):
        retry_until(lambda log=log, i=i: _once(log, f"for agent {i}"), 30)
    retry_until(lambda: watcher.live_watcher(paths.state_home(), _key(kitty)) is None, 15)
    time.sleep(1.0)
    assert all(len(read_submissions(log)) == 2 for _, log in agents)  # /busy, then the one message
    started = events_of("watcher_started")
    assert [e["server"] for e in started] == [_key(kitty)]
    assert [e["reason"] for e in events_of("watcher_exit")] == ["nothing pending"]


def test_a_draft_in_a_kitty_window_is_waited_out_never_typed_into(kitty):
    ((wid, log),) = _agents(kitty, 1)
    kitty.client.send_text(wid, "a person's draft", bracketed=False)
    retry_until(lambda: "a person's draft" in kitty.client.get_text(wid), 10)
    assert tb_json("send", "a0", "after the draft", "--json")["wake"] == "skipped_busy"
    retry_until(lambda: watcher.live_watcher(paths.state_home(), _key(kitty)) is not None, 10)
    time.sleep(3.0)  # several polls over the draft
    assert read_submissions(log) == [] and "a person's draft" in kitty.client.get_text(wid)
    kitty.client.send_text(wid, "\x15", bracketed=False)  # the person clears it (ctrl+u)
    retry_until(lambda: _once(log, "after the draft"), 20)
    assert not any("a person's draft" in s for s in read_submissions(log))


def test_the_kitty_watcher_killed_mid_wait_the_next_send_starts_another(kitty):
    agents = _agents(kitty, 2)
    for wid, _ in agents:
        _busy(kitty, wid, 8)
    tb("send", "a0", "first 0")
    tb("send", "a1", "first 1")
    pid = retry_until(lambda: (watcher.live_watcher(paths.state_home(), _key(kitty)) or {}).get("pid"), 10)
    os.kill(pid, signal.SIGKILL)
    retry_until(lambda: watcher.live_watcher(paths.state_home(), _key(kitty)) is None, 5)
    tb("send", "a0", "second 0")  # one send: the new watcher takes every session still marked
    new = retry_until(lambda: (watcher.live_watcher(paths.state_home(), _key(kitty)) or {}).get("pid"), 10)
    assert new != pid
    for i, (_, log) in enumerate(agents):
        retry_until(lambda log=log, i=i: _once(log, f"first {i}"), 30)
    retry_until(lambda: _once(agents[0][1], "second 0"), 30)
    retry_until(lambda: watcher.live_watcher(paths.state_home(), _key(kitty)) is None, 15)
    time.sleep(1.0)
    assert _once(agents[0][1], "first 0") and _once(agents[0][1], "second 0") and _once(agents[1][1], "first 1")
    rows = tb_json("status", "--json")["sessions"]
    assert all(r["pending"] + r["in_flight"] == 0 for r in rows)


def test_a_wrapper_in_a_kitty_window_is_handed_to_its_own_waiter(kitty):
    """`termbridge run` inside a kitty window: the wrapper is nearer than the window, so the kitty's
    watcher hands the session over to a per-session waiter, which delivers it once."""
    log = kitty.dir / "nested.log"
    wid = kitty.launch(
        [PY, "-m", "termbridge", "run", "--name", "nested", "--kind", "codex", "--"]
        + [PY, "-m", "termbridge.demo_agent", "--log", str(log)]
    )
    retry_until(lambda: "›" in kitty.client.get_text(wid), 15)
    assert tb_json("sessions", "--json")  # registered by the wrapper, from inside the kitty window
    assert tb("submit", "nested", "/busy 4").returncode == 0
    tb("send", "nested", "through the wrapper")
    retry_until(lambda: any(e["reason"].startswith("handed over") for e in events_of("waiter_exit")), 15)
    retry_until(lambda: _once(log, "through the wrapper"), 20)
    retry_until(lambda: session_waiter.live_waiter(paths.state_home(), "nested") is None, 10)
    assert _once(log, "through the wrapper")
    assert [e["server"] for e in events_of("watcher_started")] == [_key(kitty)]


def test_a_kitty_address_that_is_no_address_gets_the_sessions_own_waiter(home, sleeper, monkeypatch):
    """Registered with TERMBRIDGE_KITTY_SOCKET=/path (no unix:): no kitty can listen there, so no kitty
    watcher is asked to wait for it; and a watcher started for such a key gives each session marked
    for it its own waiter instead of dying with the marks left."""
    from termbridge import waiter

    monkeypatch.setenv("TERMBRIDGE_KITTY_SOCKET", "/tmp/kitty.sock")
    tb("register", "odd", "--pid", sleeper().pid, "--kind", "codex")
    monkeypatch.delenv("TERMBRIDGE_KITTY_SOCKET")
    assert waiter.server_of(paths.state_home(), "odd") is None
    tb("send", "odd", "queued for later", "--no-wake")
    watcher.mark(paths.state_home(), "odd", "kitty:/tmp/kitty.sock")
    reason = watcher.run_watcher(paths.state_home(), "kitty:/tmp/kitty.sock")
    assert reason.startswith("cannot watch kitty:/tmp/kitty.sock")
    assert watcher.read_mark(paths.state_home(), "odd") is None
    assert [e["reason"] for e in events_of("waiter_exit")] == [reason]
    w = retry_until(lambda: session_waiter.live_waiter(paths.state_home(), "odd"), 10)
    os.kill(w["pid"], signal.SIGKILL)  # its target is nowhere: it would wait idle_wait_max_s
    assert tb_json("status", "--json")["sessions"][0]["pending"] == 1  # nothing lost


def test_two_spellings_of_one_kitty_socket_share_one_watcher_key(monkeypatch):
    monkeypatch.setenv("HOME", "/home/u")
    assert (
        watcher.kitty_key("unix:~/k.sock") == watcher.kitty_key("unix:/home/u/./k.sock") == "kitty:unix:/home/u/k.sock"
    )
    assert watcher.kitty_key("unix:@kitty") == "kitty:unix:@kitty" and watcher.kitty_key("tcp:h:1") == "kitty:tcp:h:1"
