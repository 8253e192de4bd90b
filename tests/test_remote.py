"""Agents on other machines, over a real OpenSSH server (tests/ssh_lab.py): NAME@HOST reaches the
agent there exactly once, across a host that goes down and comes back, a changed host key, a
SIGKILLed forwarder and hostile text; `status --all-hosts` never hangs on a dead host."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest
from helpers import retry_until, tb, tb_json
from ssh_lab import HOST, RemoteInstall, Sshd, ensure_user, why_not, write_config

pytestmark = pytest.mark.skipif(why_not() is not None, reason=why_not() or "")

ID_RE = re.compile(r"--- message ([0-9A-Z]{26}) from")


@pytest.fixture(scope="session")
def install():
    inst = RemoteInstall(ensure_user())
    yield inst
    inst.close()


@pytest.fixture
def sshd(install):
    server = Sshd(install)
    yield server
    server.close()


@pytest.fixture
def remote(home, short_tmp, sshd):
    """A local state home configured for HOST (the lab's sshd)."""
    write_config(short_tmp / "config.yaml", {HOST: sshd.client_config()})
    yield sshd
    _end_forwarders(home)
    _ssh_exit(home)


def _end_forwarders(home) -> None:
    from termbridge import forward

    for q in forward.all_queues(home):
        live = forward.live_forwarder(home, q.host)
        if live:
            try:
                os.kill(live["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass


def _ssh_exit(home) -> None:
    from termbridge import ssh
    from termbridge.config import load_config

    for host in ssh.configured_hosts(load_config()):
        ssh.drop_master(home, ssh.host_config(host, load_config()))


_n = [0]


def _agent(install):
    _n[0] += 1
    return install.start_agent(f"ag{os.getpid()}x{_n[0]}")


def delivered_ids(agent) -> list[str]:
    return [i for text in agent.submissions() for i in ID_RE.findall(text)]


def forward_state(home, msg_id):
    return tb_json("receipt", msg_id)


def test_a_message_reaches_the_remote_agent_once_and_its_receipt_comes_back(remote, install):
    agent = _agent(install)
    p = tb("send", f"{agent.name}@{HOST}", "hello from here", "--from", "local")
    assert p.returncode == 0, p.err
    msg_id = p.out.strip()
    retry_until(lambda: msg_id in delivered_ids(agent), 30)
    r = retry_until(lambda: (x := forward_state(None, msg_id))["state"] == "submitted" and x, 20)
    assert r["session"] == f"{agent.name}@{HOST}" and r["host"] == HOST
    assert "forwarded" in r["at"] and "submitted" in r["at"]
    assert delivered_ids(agent).count(msg_id) == 1
    assert "hello from here" in agent.submissions()[-1]
    # HOST took it once, and its own state says so.
    there = json.loads(install.termbridge("receipt", msg_id, "--json").stdout)
    assert there["state"] == "submitted" and there["session"] == agent.name


def _send_quick(target: str, body: str) -> str:
    """One send that must return at once (the host's state does not matter to it)."""
    p = tb("send", target, body, timeout=15)
    assert p.returncode == 0, p.err
    return p.out.strip()


def test_host_down_sends_return_and_wait_then_all_arrive_once_in_order(remote, install, home):
    agent = _agent(install)
    remote.stop()
    ids = [_send_quick(f"{agent.name}@{HOST}", f"down message {i}") for i in range(20)]
    r = tb_json("receipt", ids[-1])
    assert r["state"] == "queued" and r["host"] == HOST
    retry_until(lambda: "not forwarded yet" in tb_json("receipt", ids[0]).get("reason", ""), 20)
    assert delivered_ids(agent) == []  # nothing arrived while the host was down
    remote.start()
    retry_until(lambda: len(delivered_ids(agent)) >= 20, 60)
    got = delivered_ids(agent)
    assert got == ids  # each exactly once, in the order sent
    retry_until(lambda: all(tb_json("receipt", i)["state"] == "submitted" for i in ids), 30)


def test_a_changed_host_key_is_refused_named_and_nothing_is_delivered(remote, install, home):
    agent = _agent(install)
    root_known = os.path.expanduser("~/.ssh/known_hosts")
    before = {
        p: (os.stat(p).st_mtime_ns, open(p, "rb").read()) for p in (remote.known_hosts, root_known) if os.path.exists(p)
    }
    remote.new_host_key()
    msg_id = _send_quick(f"{agent.name}@{HOST}", "must not arrive")
    reason = retry_until(lambda: tb_json("receipt", msg_id).get("reason", ""), 20)
    assert HOST in reason and "host key" in reason and "refused" in reason
    st = tb_json("status", "--all-hosts")
    (row,) = [r for r in st["sessions"] if r.get("host") == HOST]
    assert row["unreachable"] and "host key changed" in row["error"]
    d = tb("doctor")
    assert f"host {HOST}" in d.out and "host key changed" in d.out and d.returncode == 1
    assert tb_json("receipt", msg_id)["state"] == "queued"
    assert delivered_ids(agent) == []
    after = {
        p: (os.stat(p).st_mtime_ns, open(p, "rb").read()) for p in (remote.known_hosts, root_known) if os.path.exists(p)
    }
    assert after == before  # no key written anywhere
    assert not os.path.exists(f"{remote.known_hosts}.old")


def test_status_all_hosts_with_the_host_down_or_frozen_returns_and_says_unreachable(remote, install, home):
    agent = _agent(install)
    st = tb_json("status", "--all-hosts")
    (row,) = [r for r in st["sessions"] if r["name"] == f"{agent.name}@{HOST}"]
    assert row["host"] == HOST and row["unreachable"] is False and row["alive"]
    # A live shared connection over a frozen server: the call must end within its timeout.
    pids = remote.freeze()
    try:
        st = tb_json("status", "--all-hosts", timeout=60)
        (row,) = [r for r in st["sessions"] if r.get("host") == HOST]
        assert row["unreachable"] is True
    finally:
        remote.thaw(pids)
    remote.stop()
    st = tb_json("status", "--all-hosts", timeout=60)
    (row,) = [r for r in st["sessions"] if r.get("host") == HOST]
    assert row["unreachable"] is True and row["name"] == f"@{HOST}"
    assert "unreachable" in tb("status", "--all-hosts", timeout=60).out


def test_hostile_text_arrives_verbatim_and_runs_nowhere(remote, install, home):
    agent = _agent(install)
    trap = install.user_dir / "pwned"
    body = (
        f"a $(touch {trap}-1) b `touch {trap}-2` c \"dq\" 'sq' d ; touch {trap}-3\n"
        f"line two && touch {trap}-4 | $HOME ${{IFS}} \\ end"
    )
    p = tb("send", f"{agent.name}@{HOST}", "-", input=body)
    assert p.returncode == 0, p.err
    msg_id = p.out.strip()
    retry_until(lambda: msg_id in delivered_ids(agent), 30)
    text = agent.submissions()[-1]
    for line in body.split("\n"):
        assert f"> {line}" in text  # every line, byte for byte
    there = json.loads(install.termbridge("receipt", msg_id, "--json").stdout)
    assert there["state"] == "submitted"
    for i in range(1, 5):
        assert not os.path.exists(f"{trap}-{i}")
    assert not any(p.name.startswith("pwned") for p in install.user_dir.iterdir())


def test_a_forwarder_killed_mid_forward_loses_and_doubles_nothing(remote, install, home, short_tmp):
    from termbridge import forward

    agent = _agent(install)
    # HOST answers, then the call lingers (termbridge-slow): the ids are taken there, not yet confirmed here.
    write_config(short_tmp / "config.yaml", {HOST: remote.client_config(install.slow_command)})
    ids = [_send_quick(f"{agent.name}@{HOST}", f"kill test {i}") for i in range(5)]
    taken_log = install.state / "sessions" / agent.name / "forwarded_in.log"
    retry_until(lambda: taken_log.exists() and len(taken_log.read_text().split()) >= 5, 30)
    live = forward.live_forwarder(home, HOST)
    assert live, "the forwarder should still wait for the lingering call"
    os.kill(live["pid"], signal.SIGKILL)
    q = forward.ForwardQueue(home, HOST)
    assert len(q.pending()) >= 1  # not confirmed here: it goes again
    write_config(short_tmp / "config.yaml", {HOST: remote.client_config()})
    ids.append(_send_quick(f"{agent.name}@{HOST}", "after the kill"))
    retry_until(lambda: not q.pending(), 30)
    retry_until(lambda: len(delivered_ids(agent)) >= 6, 60)
    assert delivered_ids(agent) == ids  # nothing lost, nothing twice, in order
    assert sorted(taken_log.read_text().split()) == sorted(ids)


def test_submit_drain_and_status_of_one_remote_session(remote, install, home):
    agent = _agent(install)
    p = tb("submit", f"{agent.name}@{HOST}", "typed directly", "--json")
    assert p.returncode == 0, p.err
    assert json.loads(p.out)["submitted"] is True
    retry_until(lambda: "typed directly" in agent.submissions(), 20)
    st = tb_json("status", f"{agent.name}@{HOST}")
    assert [r["name"] for r in st["sessions"]] == [f"{agent.name}@{HOST}"]
    assert tb("drain", f"{agent.name}@{HOST}", "--print").returncode == 0
    nobody = tb("send", f"nobody@{HOST}", "x", "--no-wake")
    assert nobody.returncode == 0, nobody.err  # durable here; HOST has no such session and refuses it
    r = retry_until(lambda: (x := tb_json("receipt", nobody.out.strip()))["state"] == "dead" and x, 30)
    assert "unknown session 'nobody'" in r["reason"] and HOST in r["reason"]
    bad = tb("submit", f"{agent.name}@-oProxyCommand=x", "hi")
    assert bad.returncode == 2 and "invalid host" in bad.err


def test_a_wedged_or_dead_shared_connection_is_replaced(remote, install, home):
    from termbridge import ssh
    from termbridge.config import load_config

    agent = _agent(install)
    first = _send_quick(f"{agent.name}@{HOST}", "over a fresh connection")
    retry_until(lambda: first in delivered_ids(agent), 30)
    hc = ssh.host_config(HOST, load_config())
    master = ssh.master_pid(home, hc)
    assert master, "ControlPersist keeps the shared connection"
    os.kill(master, signal.SIGSTOP)  # answers nothing, and its socket is still there
    try:
        second = _send_quick(f"{agent.name}@{HOST}", "past a wedged master")
        retry_until(lambda: second in delivered_ids(agent), 30)
    finally:
        try:
            os.kill(master, signal.SIGCONT)
        except ProcessLookupError:
            pass
    master = retry_until(lambda: ssh.master_pid(home, hc), 10)
    os.kill(master, signal.SIGKILL)  # a stale socket file, no listener
    retry_until(lambda: not ssh.master_pid(home, hc), 10)
    third = _send_quick(f"{agent.name}@{HOST}", "past a dead master")
    retry_until(lambda: third in delivered_ids(agent), 30)
    assert delivered_ids(agent) == [first, second, third]


def test_the_control_path_fits_under_a_long_state_directory(tmp_path):
    from termbridge import ssh

    long_home = tmp_path / ("x" * 150) / "state"
    hc = ssh.HostConfig("tbhost", ssh=("-F", "/dev/null"))
    path = ssh.control_path(long_home, hc)
    assert len(path.encode()) + ssh.SSH_TEMP_SUFFIX < ssh.SUN_PATH_MAX
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    short = ssh.control_path(Path("/tmp/h"), hc)
    assert short.startswith("/tmp/h/ssh/") and short != ssh.control_path(Path("/tmp/h"), ssh.HostConfig("other"))


# ---------------------------------------------------------------- ask NAME@HOST
def _hooked_agent(install, name: str):
    """The demo agent in a pane of the remote user's tmux, recognised as codex and running termbridge's
    hooks there as its children: its SessionStart registers it as NAME, its Stop answers questions."""
    import shlex

    from ssh_lab import RemoteAgent

    d = install.user_dir / f"h-{name}"
    make = f"from termbridge.demo_agent import launcher; print(launcher({str(d)!r}, 'codex'))"
    exe = install.as_user(install.python, "-c", make).stdout.decode().strip()
    log, rec = install.user_dir / f"{name}.log", install.user_dir / f"{name}.jsonl"
    q = shlex.quote
    cmd = (
        f"exec env TERMBRIDGE_SESSION={name} {q(exe)} --log {q(str(log))} --title {name}"
        f" --hooks codex --record {q(str(rec))}"
    )
    sock = str(install.tmux_socket)
    if install.as_user("tmux", "-S", sock, "has-session", check=False).returncode == 0:
        install.as_user("tmux", "-S", sock, "new-window", "-d", "-n", name, cmd)
    else:
        size = ("-x", "160", "-y", "45")
        install.as_user("tmux", "-S", sock, "-f", "/dev/null", "new-session", "-d", "-s", "lab", "-n", name, *size, cmd)
    panes = install.as_user("tmux", "-S", sock, "list-panes", "-a", "-F", "#{window_name} #{pane_pid}").stdout
    pid = int(next(ln.split()[1] for ln in panes.decode().splitlines() if ln.split()[0] == name))
    agent = RemoteAgent(install, name, pid, log)
    retry_until(lambda: "›" in agent.screen(), 15)

    def registered() -> bool:
        out = install.termbridge("sessions", "--json", check=False).stdout
        return any(s["name"] == name for s in json.loads(out or b"{}").get("sessions", []))

    retry_until(registered, 20)
    return agent


def _hooked(install):
    _n[0] += 1
    return _hooked_agent(install, f"hk{os.getpid()}x{_n[0]}")


def _local_session(short_tmp, name: str):
    """A registered session here (the asker) with its own record bound by its SessionStart hook."""
    from agent_host import AgentHost

    h = AgentHost(short_tmp / name, "claude")
    transcript = short_tmp / f"{name}.jsonl"
    transcript.write_text("")
    start = {"session_id": f"sid-{name}", "transcript_path": str(transcript), "source": "startup"}
    rc, _ = h.hook("session-start", dict(start, hook_event_name="SessionStart"), session=name)
    assert rc == 0
    return h


def _taken_there(install, agent) -> list[str]:
    log = install.state / "sessions" / agent.name / "forwarded_in.log"
    return log.read_text().split() if log.exists() else []


def test_ask_a_remote_agent_prints_its_answer_from_its_own_stop_hook(remote, install, home):
    agent = _hooked(install)
    target = f"{agent.name}@{HOST}"
    question = "Is the remote build green? tok-rask01"
    p = tb("ask", target, question, "--timeout", "60", timeout=90)
    assert (p.returncode, p.out) == (0, f"Answer to {question!r}: yes.\n"), p.err
    p = tb("ask", target, "Which branch? tok-rask02", "--timeout", "60", "--json", timeout=90)
    assert p.returncode == 0, p.err
    got = json.loads(p.out)
    assert set(got) == {"id", "session", "state", "answer", "at"}
    assert (got["session"], got["state"], got["answer"]) == (
        target,
        "answered",
        "Answer to 'Which branch? tok-rask02': yes.",
    )
    assert got["at"]["forwarded"] <= got["at"]["answered"]
    r = tb_json("receipt", got["id"])
    assert (r["state"], r["answer"], r["host"]) == ("answered", got["answer"], HOST)
    assert r["via"] == f"{HOST}: hook:codex"  # the answer came from the agent's own Stop hook there
    # There it was a question of its own, framed as one, taken and typed once.
    there = json.loads(install.termbridge("receipt", got["id"], "--json").stdout)
    assert (there["state"], there["answer"]) == ("answered", got["answer"])
    typed = [t for t in agent.submissions() if got["id"] in t]
    assert len(typed) == 1 and "waits for your reply" in typed[0] and "> Which branch? tok-rask02" in typed[0]
    assert delivered_ids(agent).count(got["id"]) == 1 and _taken_there(install, agent).count(got["id"]) == 1


def test_ask_with_the_host_down_times_out_then_the_question_goes_once_and_the_answer_comes(
    remote, install, home, short_tmp
):
    from termbridge.outbox import Outbox

    agent = _hooked(install)
    lead = _local_session(short_tmp, "lead")
    try:
        remote.stop()
        p = tb("ask", f"{agent.name}@{HOST}", "tok-down77 still there?", "--from", "lead", "--timeout", "3", "--json")
        assert p.returncode == 4, p.err
        got = json.loads(p.out)
        assert (got["state"], got["answer"]) == ("queued", None)
        assert p.err.count("\n") == 1 and "no answer from" in p.err and "stays queued here" in p.err
        assert "later answer goes to lead" in p.err
        assert tb_json("receipt", got["id"])["state"] == "queued"
        assert delivered_ids(agent) == []
        remote.start()

        def late() -> list[dict]:
            return [m for m in Outbox(home, "lead").queued_records() if m["reply_to"] == got["id"]]

        # No one asks here: HOST's forwarder forwards the question, then looks for its answer itself,
        # and the asking session gets it as a message.
        retry_until(late, 90, 0.5)
        r = tb_json("receipt", got["id"])
        assert (r["state"], r["answer"]) == ("answered", "Answer to 'tok-down77 still there?': yes.")
        assert delivered_ids(agent).count(got["id"]) == 1 and _taken_there(install, agent).count(got["id"]) == 1
        tb_json("receipt", got["id"])  # seen answered again: nothing more
        (msg,) = late()
        assert r["answer"] in msg["body"] and msg["from"] == f"{agent.name}@{HOST}"
    finally:
        lead.close()


def test_ask_refusals_come_back_at_once_as_one_line(remote, install, home):
    plain = _agent(install)  # registered there, but no hook of its own would ever answer
    p = tb("ask", f"{plain.name}@{HOST}", "tok-nohook?", "--timeout", "60", timeout=60)
    assert p.returncode == 4 and p.err.count("\n") == 1 and "runs no termbridge hooks" in p.err, p.err
    assert HOST in p.err and plain.submissions() == []
    p = tb("ask", f"nobody@{HOST}", "tok-nobody?", "--timeout", "60", timeout=60)
    assert p.returncode == 4 and "unknown session 'nobody'" in p.err, p.err
    bad = tb("ask", f"x@-oProxyCommand=touch {install.user_dir}/pwned", "q")
    assert bad.returncode == 2 and "invalid host" in bad.err
    assert tb("ask", f"x@{HOST}", "q", "--timeout", "0").returncode == 2
    assert tb("ask", f"x@{HOST}", "q", "--from", "a b").returncode == 2
    assert not (install.user_dir / "pwned").exists()


def test_mcp_ask_to_a_remote_agent(remote, install, home, short_tmp):
    from termbridge import mcp_server

    agent = _hooked(install)
    lead = _local_session(short_tmp, "lead")
    try:
        bridge = mcp_server.start("lead", env=dict(os.environ), parent=lead.pid)
        got = mcp_server.tool_ask(bridge, f"{agent.name}@{HOST}", "tok-mcpr01 ready?", 45)
        assert got == "Answer to 'tok-mcpr01 ready?': yes."
    finally:
        lead.close()


def test_a_dialog_on_the_remote_agent_comes_back_as_blocked_and_is_never_answered_for_its_person(remote, install, home):
    agent = _hooked(install)
    target = f"{agent.name}@{HOST}"
    assert tb("submit", target, "/dialog").returncode == 0
    retry_until(lambda: tb_json("status", target)["sessions"][0].get("surface") == "dialog", 20, 0.3)
    p = tb("ask", target, "tok-rdlg31?", "--timeout", "8", "--json", timeout=60)
    got = json.loads(p.out)
    assert p.returncode == 4 and (got["state"], got["answer"]) == ("blocked", None), p.err
    assert p.err.count("\n") == 1 and "waits for its person there" in p.err
    r = tb_json("receipt", got["id"])
    assert r["state"] == "blocked" and HOST in r["reason"]
    assert got["id"] not in "".join(agent.submissions())  # nothing typed into the dialog
    sock = str(install.tmux_socket)
    install.as_user("tmux", "-S", sock, "send-keys", "-t", f"lab:{agent.name}", "Escape")  # the person declines it
    r = retry_until(lambda: (x := tb_json("receipt", got["id"]))["state"] == "answered" and x, 60, 1.0)
    assert r["answer"] == "Answer to 'tok-rdlg31?': yes."


def test_the_pair_limit_counts_the_asker_and_name_at_host(remote, install, home, short_tmp):
    from termbridge import forward

    write_config(short_tmp / "config.yaml", {HOST: remote.client_config()}, ask_pair_limit=1)
    lead = _local_session(short_tmp, "lead")
    try:
        remote.stop()  # the questions wait here; the limit is counted here
        first = tb("ask", f"someone@{HOST}", "tok-pair1?", "--from", "lead", "--timeout", "0.5")
        assert first.returncode == 4 and "no answer from" in first.err
        second = tb("ask", f"someone@{HOST}", "tok-pair2?", "--from", "lead", "--timeout", "0.5")
        assert second.returncode == 4 and "ask_pair_limit 1" in second.err and second.err.count("\n") == 1
        assert [r["body"] for r in forward.ForwardQueue(home, HOST).pending()] == ["tok-pair1?"]  # nothing queued
        other = tb("ask", f"another@{HOST}", "tok-pair3?", "--from", "lead", "--timeout", "0.5")
        assert other.returncode == 4 and "ask_pair_limit" not in other.err  # another pair
    finally:
        lead.close()
