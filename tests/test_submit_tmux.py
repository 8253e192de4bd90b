"""Verified targets and terminal-level submit against real tmux panes and a raw-mode agent."""

from __future__ import annotations

import json
import re
import shlex
import time

import pytest
from helpers import retry_until, tb, tb_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lab import HERE, PY

pytestmark = pytest.mark.timeout(120)


def test_bare_send_keys_fails_but_submit_works(lab):
    agent = lab.agent()
    lab.tmux("send-keys", "-t", agent.pane_id, "-l", "bare text")
    lab.tmux("send-keys", "-t", agent.pane_id, "Enter")
    time.sleep(0.6)
    assert agent.submissions() == []  # the Enter landed inside the paste burst: a newline, no submit
    lab.tmux("send-keys", "-t", agent.pane_id, "C-u")
    assert tb("register", "a", "--pid", agent.pid, "--kind", "codex").returncode == 0
    res = tb_json("submit", "a", "hello from termbridge")
    assert res == {
        "session": "a",
        "backend": "tmux",
        "target": f"tmux:{agent.pane_id}",
        "chars": 21,
        "submitted": True,
        "confirmed": "screen",
        "enter_presses": 1,
    }
    retry_until(lambda: agent.submissions() == ["hello from termbridge"])


def test_decoys_and_spoofed_tmux_pane(lab):
    real, decoy = lab.agent("real"), lab.agent("decoy")
    tb("register", "a", "--pid", real.pid)
    spoof = lab.env(TMUX=f"{lab.socket},1,0", TMUX_PANE=decoy.pane_id)
    p = tb("submit", "a", "for the real one", env=spoof)
    assert p.returncode == 0, p.err
    assert json.loads(tb("resolve", "a", "--json", env=spoof).out)["target"] == f"tmux:{real.pane_id}"
    retry_until(lambda: real.submissions() == ["for the real one"])
    time.sleep(0.3)
    assert decoy.submissions() == [] and "for the real one" not in decoy.screen()


def test_live_pid_no_pane_hosts_is_exit_3(lab, sleeper):
    decoy = lab.agent("decoy")
    tb("register", "orphan", "--pid", sleeper().pid)
    p = tb("submit", "orphan", "nobody should see this")
    assert p.returncode == 3 and "no tmux pane" in p.err and p.err.count("\n") == 1
    assert tb("resolve", "orphan").returncode == 3
    time.sleep(0.3)
    assert decoy.submissions() == [] and "nobody should" not in decoy.screen()
    assert any(e["event"] == "resolve_failed" for e in map(json.loads, tb("events", "--json").out.splitlines()))


def test_dead_and_reused_pid_refused(lab, home):
    agent = lab.agent()
    tb("register", "a", "--pid", agent.pid)
    # PID reuse: the same number now names a process with another start time.
    rec = home / "sessions" / "a" / "session.json"
    data = json.loads(rec.read_text())
    data["start_time"] = "1"
    rec.write_text(json.dumps(data))
    p = tb("submit", "a", "must not land")
    assert p.returncode == 3 and "reused" in p.err
    assert tb_json("sessions")["sessions"][0]["liveness"] == "reused"
    other = lab.agent("other")
    lab.tmux("kill-pane", "-t", agent.pane_id)
    p = tb("submit", "a", "must not land")
    assert p.returncode == 3 and other.submissions() == []


def test_multiline_is_one_submission(lab):
    agent = lab.agent()
    tb("register", "a", "--pid", agent.pid)
    text = "first line\nsecond line\n\nfourth after a blank"
    assert tb("submit", "a", text).returncode == 0
    retry_until(lambda: agent.submissions() == [text])
    long_line = "x" * 3000
    assert tb("submit", "a", long_line).returncode == 0
    retry_until(lambda: len(agent.submissions()) == 2)
    assert agent.submissions()[1] == long_line


def test_nested_agent_chain_and_no_enter(lab):
    agent = lab.agent(exec_=False)  # sh -c 'python agent; sleep' : the pane root is the shell
    tb("register", "a", "--pid", agent.pid)
    res = tb_json("resolve", "a")
    assert res["chain"][0] == agent.pid and res["chain"][-1] == int(agent.pane.pane_pid) and len(res["chain"]) == 2
    assert tb_json("submit", "a", "draft only", "--no-enter")["submitted"] is False
    retry_until(lambda: "› draft only" in agent.screen())
    assert agent.submissions() == []
    time.sleep(0.2)  # past Codex's 120 ms window after the paste: an Enter-only submit then submits
    assert tb("submit", "a", "--enter-only").returncode == 0  # Enter alone, over termbridge's own text
    retry_until(lambda: agent.submissions() == ["draft only"])


def test_control_only_text_is_refused_not_an_empty_enter(lab):
    agent = lab.agent()
    tb("register", "a", "--pid", agent.pid)
    p = tb("submit", "a", "\x1b\x07\x08\x7f\x9b")
    assert p.returncode == 2 and "nothing printable" in p.err
    time.sleep(0.3)
    assert agent.submissions() == []


def test_canonical_mode_refuses_overlong_line(lab, short_tmp):
    out = short_tmp / "cat.out"
    pane = lab.pane(f"exec cat > {out}")
    time.sleep(0.3)
    tb("register", "c", "--pid", int(pane.pane_pid))
    p = tb("submit", "c", "y" * 5000)
    assert p.returncode == 2 and "canonical" in p.err
    assert tb("submit", "c", "z" * 100).returncode == 0
    retry_until(lambda: out.exists() and out.read_text() == "z" * 100 + "\n")


@pytest.fixture
def recorder(lab, short_tmp):
    out = short_tmp / "raw.bin"
    pane = lab.pane(f"exec {shlex.quote(PY)} {HERE / 'rawrec.py'} {out}")
    retry_until(lambda: "rawrec ready" in lab.tmux("capture-pane", "-p", "-t", pane.pane_id))
    tb("register", "rec", "--pid", int(pane.pane_pid))
    return out


CONTROL = re.compile(rb"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.sampled_from(list("ab \n\t\x1b\x07\x01\x08\x7f\x9b\x90[]~;201\r") + ["\x1b[201~", "\x1b]0;x\x07", "é"]),
        min_size=1,
        max_size=30,
    ).map("".join)
)
def test_no_escape_or_control_reaches_the_agent(recorder, text):
    start = recorder.stat().st_size if recorder.exists() else 0
    p = tb("submit", "rec", text, "--gap-ms", "50")
    if p.returncode == 2:  # nothing printable left, or NUL in argv: refused, nothing typed
        return
    assert p.returncode == 0, p.err
    retry_until(lambda: recorder.exists() and recorder.read_bytes()[start:].endswith(b"\r"), 10)
    got = recorder.read_bytes()[start:]
    body = got.replace(b"\x1b[200~", b"").replace(b"\x1b[201~", b"")[:-1]  # paste markers + the final Enter
    assert b"\x1b" not in body and not CONTROL.search(body.replace(b"\n", b"").replace(b"\t", b""))
    assert "\x9b" not in body.decode("utf-8") and "\x90" not in body.decode("utf-8")
