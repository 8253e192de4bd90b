"""The tmux server watcher: one process waits for every session of a server, on real panes,
with real sends, killed at any instant; and `status` over a whole server with one list-panes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import TB, events_of, retry_until, tb, tb_json

from termbridge import proctree

pytestmark = pytest.mark.timeout(400)


def _rows():
    return {r["name"]: r for r in tb_json("status")["sessions"]}


def _agents(lab, n, work=0.0):
    """N demo agents in N windows of the lab's server, each registered as a1..aN (codex)."""
    agents = [lab.agent(work=work) for _ in range(n)]
    for i, a in enumerate(agents, 1):
        assert tb("register", f"a{i}", "--pid", a.pid, "--kind", "codex").returncode == 0
    return agents


def _make_busy(lab, agents, seconds):
    """Each agent starts a `/busy S` turn (its own S): one paste each, then, past the agent's
    paste-burst window, one Enter each -- two tmux processes for all of them."""
    args: list[str] = []
    for a, s in zip(agents, seconds, strict=True):
        args += ["send-keys", "-t", a.pane_id, "-l", f"/busy {s}", ";"]
    lab.tmux(*args[:-1])
    time.sleep(0.3)  # an Enter within the agent's paste-burst window would be a newline
    args = []
    for a in agents:
        args += ["send-keys", "-t", a.pane_id, "Enter", ";"]
    lab.tmux(*args[:-1])
    for a in agents:
        retry_until(lambda a=a: "esc to interrupt" in a.screen(), 15)


def _send_all(items, workers=6):
    """`send` NAME TEXT for each (NAME, TEXT), several at once (as many agents' hooks would)."""
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda it: tb_json("send", *it), items))


def _watchers():
    return {e["pid"] for e in events_of("watcher_started")}


def _watcher_procs(lab):
    """The watcher processes of the lab's server running now, including any a concurrent send started
    that is still waiting (up to watcher.LOCK_WAIT_S) for the lock of the one that serves."""
    found = []
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        argv = proctree.cmdline(pid)
        if "termbridge.watcher" in argv and os.path.abspath(lab.socket) in argv:
            found.append(pid)
    return sorted(found)


def _delivered_once(agent, text):
    """TEXT framed in the agent's submissions (its own `> TEXT` line: m1 is no m13), exactly once."""
    lines = "\n".join(agent.submissions()).split("\n")
    return sum(line.strip() == f"> {text}" for line in lines) == 1


def test_fifty_agents_each_get_theirs_exactly_once_at_random_idle_times(lab):
    rnd = random.Random(27)
    agents = _agents(lab, 50)
    _make_busy(lab, agents, [rnd.randint(15, 35) for _ in agents])
    _send_all([(f"a{i}", f"for agent {i}") for i in range(1, 51)])
    rows = _rows()
    # Still busy and waiting, or (on a slow machine, where 50 sends outlast a short busy spell)
    # already idle and delivered to, once.
    assert all(rows[f"a{i}"]["pending"] == 1 or _delivered_once(agents[i - 1], f"for agent {i}") for i in range(1, 51))
    waited = {f"a{i}" for i in range(1, 51) if rows[f"a{i}"]["pending"] == 1}
    assert waited  # and the watcher has work
    assert len(_watchers()) == 1  # 50 sends, one watcher for the server
    assert {r["waiter"]["pid"] for r in rows.values() if r["waiter"]} == _watchers()
    for i, a in enumerate(agents, 1):
        retry_until(lambda a=a, i=i: _delivered_once(a, f"for agent {i}"), 60)
    retry_until(lambda: not _watchers_alive(), 15)  # nothing pending: it ends by itself
    time.sleep(1.0)
    rows = _rows()
    for i, a in enumerate(agents, 1):
        assert len(a.submissions()) == 2 and _delivered_once(a, f"for agent {i}")  # its own, once
        assert rows[f"a{i}"]["pending"] == 0 and rows[f"a{i}"]["waiter"] is None
    assert len(_watchers()) == 1
    exits = [e["session"] for e in events_of("waiter_exit")]
    assert len(exits) == len(set(exits)) and waited <= set(exits) <= {f"a{i}" for i in range(1, 51)}
    assert {e["reason"] for e in events_of("waiter_exit")} == {"nothing pending"}


def _watchers_alive():
    return [p for p in _watchers() if proctree.is_alive(p)]


def test_one_watcher_per_server_however_many_sends_and_foreground_runs_start_it(lab):
    agents = _agents(lab, 6)
    # Busy long enough that all 24 sends are queued before any agent goes idle, even on a loaded
    # machine (with 4 s, a CI run once split a batch: delivered once each, but in two turns).
    _make_busy(lab, agents, [12] * 6)
    _send_all([(f"a{i % 6 + 1}", f"m{i}") for i in range(24)], workers=8)
    assert all("esc to interrupt" in a.screen() for a in agents)  # still busy: one batch each follows
    ps = [subprocess.Popen([*TB, "waiter", f"a{i}"]) for i in range(1, 4)]  # the internal command too
    assert [p.wait(30) for p in ps] == [0, 0, 0]  # each sees the server's watcher and leaves
    assert len(_watchers()) == 1
    for i in range(24):
        retry_until(lambda i=i: _delivered_once(agents[i % 6], f"m{i}"), 40)
    retry_until(lambda: not _watchers_alive(), 15)
    assert len(_watchers()) == 1 and all(len(a.submissions()) == 2 for a in agents)  # four in one turn each


def test_watcher_killed_mid_wait_the_next_send_serves_every_marked_session(lab):
    agents = _agents(lab, 5)
    _make_busy(lab, agents, [10] * 5)
    _send_all([(f"a{i}", f"first {i}") for i in range(1, 6)])
    pid = retry_until(lambda: (_rows()["a1"]["waiter"] or {}).get("pid"), 5)
    assert {(r["waiter"] or {}).get("pid") for r in _rows().values()} == {pid}
    retry_until(lambda: _watcher_procs(lab) == [pid], 10)  # the others the sends started have left
    os.kill(pid, signal.SIGKILL)
    retry_until(lambda: all(r["waiter"] is None for r in _rows().values()), 5)
    assert all(r["pending"] == 1 for r in _rows().values())
    tb("send", "a1", "second 1")  # one send: the new watcher takes every session still marked
    for i, a in enumerate(agents, 1):
        retry_until(lambda a=a, i=i: _delivered_once(a, f"first {i}"), 30)
    assert _delivered_once(agents[0], "second 1")
    retry_until(lambda: not _watchers_alive(), 15)
    time.sleep(1.0)
    assert all(len(a.submissions()) == 2 for a in agents) and len(_watchers()) == 2
    assert all(r["pending"] + r["in_flight"] == 0 for r in _rows().values())


def test_watcher_killed_mid_delivery_loses_and_doubles_nothing(lab, short_tmp):
    agents = _agents(lab, 6)
    (short_tmp / "config.yaml").write_text("gap_ms: 2500\n")  # a long paste->Enter gap to kill it in
    _make_busy(lab, agents, [5, 5, 6, 6, 7, 7])
    ids = [r["id"] for r in _send_all([(f"a{i}", f"fragile {i}") for i in range(1, 7)])]
    pid = retry_until(lambda: (_rows()["a1"]["waiter"] or {}).get("pid"), 5)
    retry_until(lambda: _watcher_procs(lab) == [pid], 10)  # the others the sends started have left
    retry_until(lambda: any("fragile" in a.screen() for a in agents), 20)  # pasted, waiting out the gap
    os.kill(pid, signal.SIGKILL)
    (short_tmp / "config.yaml").write_text("gap_ms: 200\n")
    _send_all([(f"a{i}", f"later {i}") for i in range(1, 7)])
    for i, a in enumerate(agents, 1):
        retry_until(lambda a=a, i=i: _delivered_once(a, f"fragile {i}") and _delivered_once(a, f"later {i}"), 30)
    retry_until(lambda: all(r["pending"] + r["in_flight"] == 0 for r in _rows().values()), 15)
    retry_until(lambda: not _watchers_alive(), 15)
    time.sleep(1.0)
    for i, a in enumerate(agents, 1):
        assert _delivered_once(a, f"fragile {i}") and _delivered_once(a, f"later {i}")
    assert all(tb_json("receipt", m)["state"] == "submitted" for m in ids)


def test_a_tmux_server_restarted_under_the_watcher(lab):
    (a,) = _agents(lab, 1)
    _make_busy(lab, [a], [30])
    tb("send", "a1", "before the restart")
    pid = retry_until(lambda: (_rows()["a1"]["waiter"] or {}).get("pid"), 5)
    lab.tmux("kill-server")  # the agent dies with its pane; the watcher finds no server
    retry_until(lambda: not proctree.is_alive(pid), 15)
    assert any(e["reason"] == "session died" for e in events_of("waiter_exit"))
    # A new server on the same socket, a new agent registered under the same name.
    lab.session = None
    b = lab.agent()
    assert tb("register", "a1", "--pid", b.pid, "--kind", "codex").returncode == 0
    _make_busy(lab, [b], [3])
    tb("send", "a1", "after the restart")  # the server's watcher again: same key, a new process
    retry_until(lambda: _delivered_once(b, "before the restart") and _delivered_once(b, "after the restart"), 30)
    retry_until(lambda: not _watchers_alive(), 15)
    assert len(_watchers()) == 2 and len(b.submissions()) == 2


def test_the_same_watcher_lives_through_its_server_restarting(lab, sleeper):
    """A session that outlives the server (its process is no pane's) keeps the watcher alive while the
    server is killed and started again on the same socket; it lists the new server and delivers there."""
    (a,) = _agents(lab, 1)  # the server runs: z is marked for its watcher
    z = sleeper()
    assert tb("register", "z", "--pid", z.pid, "--kind", "codex").returncode == 0
    tb("send", "z", "for a session with no terminal")  # queued: no target, so no waiter from send
    fg = subprocess.Popen([*TB, "waiter", "z"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pid = retry_until(lambda: (_rows()["z"]["waiter"] or {}).get("pid"), 10)
        assert pid == fg.pid and _watchers() == {pid}  # `termbridge waiter` runs the server's watcher here
        _make_busy(lab, [a], [30])
        tb("send", "a1", "before the restart")
        assert (_rows()["a1"]["waiter"] or {}).get("pid") == pid
        lab.tmux("kill-server")
        retry_until(lambda: any(e["reason"] == "session died" for e in events_of("waiter_exit")), 15)
        assert fg.poll() is None  # still waiting for z
        lab.session = None
        b = lab.agent()
        assert tb("register", "a1", "--pid", b.pid, "--kind", "codex").returncode == 0
        _make_busy(lab, [b], [3])
        tb("send", "a1", "after the restart")
        assert (_rows()["a1"]["waiter"] or {}).get("pid") == pid  # the same watcher, the new server
        retry_until(lambda: _delivered_once(b, "before the restart") and _delivered_once(b, "after the restart"), 30)
        assert _watchers() == {pid} and _rows()["z"]["pending"] == 1
    finally:
        fg.kill()
        fg.wait()


def test_the_watcher_follows_a_server_killed_while_it_serves_others(lab, short_tmp):
    """Two servers, two watchers: killing one server ends its watcher's sessions only."""
    from lab import TmuxLab

    other = TmuxLab(short_tmp / "o")
    (short_tmp / "o").mkdir()
    try:
        (a,) = _agents(lab, 1)
        b = other.agent()
        env = dict(os.environ, TERMBRIDGE_TMUX_SOCKET=other.socket)
        assert tb("register", "b1", "--pid", b.pid, "--kind", "codex", env=env).returncode == 0
        _make_busy(lab, [a], [4])
        _make_busy(other, [b], [30])
        tb("send", "a1", "to a")
        tb("send", "b1", "to b")
        rows = _rows()
        assert rows["a1"]["waiter"]["server"] == lab.socket and rows["b1"]["waiter"]["server"] == other.socket
        assert rows["a1"]["waiter"]["pid"] != rows["b1"]["waiter"]["pid"]  # one watcher per server
        other.tmux("kill-server")
        retry_until(lambda: _delivered_once(a, "to a"), 20)
        retry_until(lambda: _rows()["b1"]["waiter"] is None, 15)
        assert _rows()["b1"]["pending"] == 1  # kept for the next send, hook or focus
    finally:
        other.kill()


def test_a_wrapper_in_a_pane_is_handed_to_its_own_waiter(lab, short_tmp):
    """`termbridge run` inside a tmux pane: the wrapper is nearer than the pane, so the server's watcher
    hands the session over to a per-session waiter, which delivers it once."""
    from lab import PY, read_submissions

    log = short_tmp / "nested.log"
    pane = lab.pane(f"{PY} -m termbridge run --name nested --kind codex -- {PY} -m termbridge.demo_agent --log {log}")
    retry_until(lambda: "›" in lab.tmux("capture-pane", "-p", "-t", pane.pane_id))
    assert tb("submit", "nested", "/busy 4").returncode == 0
    tb("send", "nested", "through the wrapper")
    retry_until(lambda: any(e["reason"].startswith("handed over") for e in events_of("waiter_exit")), 15)
    w = retry_until(lambda: _rows()["nested"]["waiter"], 10)
    assert "server" not in w and w["pid"] not in _watchers()  # its own waiter now
    retry_until(lambda: sum("> through the wrapper" in s for s in read_submissions(log)) == 1, 20)
    retry_until(lambda: _rows()["nested"]["waiter"] is None, 10)
    assert sum("> through the wrapper" in s for s in read_submissions(log)) == 1


def test_status_lists_a_whole_server_with_one_list_panes(lab, short_tmp):
    agents = _agents(lab, 5)
    log = short_tmp / "tmux-calls.log"
    shim = short_tmp / "bin"
    shim.mkdir()
    real = subprocess.run(["sh", "-c", "command -v tmux"], capture_output=True, text=True).stdout.strip()
    (shim / "tmux").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    (shim / "tmux").chmod(0o755)
    env = dict(os.environ, PATH=f"{shim}:{os.environ['PATH']}")
    rows = {r["name"]: r for r in tb_json("status", env=env)["sessions"]}
    assert all(rows[f"a{i}"]["surface"] == "idle" for i in range(1, 6))
    assert {rows[f"a{i}"]["target"] for i in range(1, 6)} == {f"tmux:{a.pane_id}" for a in agents}
    calls = log.read_text().splitlines()
    assert sum("list-panes" in c for c in calls) == 1  # one listing for five sessions
    assert len(calls) == 2  # and one more tmux process reading their five screens


@pytest.mark.fast
def test_the_kind_and_state_tuples_are_their_literal_types():
    """kinds.py and receipts_log.py spell each tuple beside its Literal type (no `typing` at run time
    on send's hot path): the two must name the same values, in the same order."""
    import ast
    import inspect

    from termbridge import kinds, receipts_log

    checked = 0
    for mod in (kinds, receipts_log):
        tree = ast.parse(inspect.getsource(mod))
        types = {
            n.targets[0].id: tuple(ast.literal_eval(n.value.slice))
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            and isinstance(n.value, ast.Subscript)
            and getattr(n.value.value, "id", "") == "Literal"
        }
        for n in ast.walk(tree):
            if isinstance(n, ast.AnnAssign) and isinstance(n.value, ast.Tuple):
                of = n.annotation.slice.elts[0].id  # tuple[Kind, ...]
                assert getattr(mod, n.target.id) == types[of], n.target.id
                checked += 1
    assert checked == 5
