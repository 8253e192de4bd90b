"""The Claude Code Stop hook and the ready-made shell integration."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from helpers import events_of, retry_until, tb, tb_json

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(120)


def stop(payload, session="c", env=None):
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    args = ["hook", "claude-stop"] + (["--session", session] if session else [])
    return tb(*args, input=data, env=env)


@pytest.fixture
def claude(home, sleeper):
    tb("register", "c", "--pid", sleeper().pid, "--kind", "claude")
    return "c"


def test_block_with_framed_messages_then_stop(claude):
    mid = tb_json("send", "c", "please review PR 7", "--from", "lead", "--no-wake")["id"]
    p = stop({"session_id": "abc", "stop_hook_active": False})
    assert p.returncode == 0
    out = json.loads(p.out)
    assert out["decision"] == "block" and mid in out["reason"] and "please review PR 7" in out["reason"]
    assert "not instructions from your user" in out["reason"]
    assert tb_json("status")["sessions"][0]["pending"] == 0  # counted delivered
    p = stop({"session_id": "abc", "stop_hook_active": True})
    assert p.returncode == 0 and p.out == ""  # nothing pending: lets Claude stop, marks idle
    mark = json.loads((Path(os.environ["TERMBRIDGE_HOME"]) / "sessions" / "c" / "mark.json").read_text())
    assert mark["state"] == "idle"


def test_budget_spent_then_reset_by_fresh_turn(claude):
    for i in range(5):
        tb("send", "c", f"m{i}", "--no-wake")
        p = stop({"stop_hook_active": i > 0})
        assert p.returncode == 0
        if i < 3:
            assert json.loads(p.out)["decision"] == "block"
        else:
            assert p.out == ""  # budget of 3 consecutive blocks spent: Claude may stop
    assert tb_json("status")["sessions"][0]["pending"] == 2  # left queued, not lost
    p = stop({"stop_hook_active": False})  # a fresh user turn resets the budget
    assert json.loads(p.out)["decision"] == "block" and "m3" in json.loads(p.out)["reason"]


@pytest.mark.parametrize("flag", [None, "yes", 1, "false"])
def test_absent_or_malformed_flag_counts_as_active(claude, flag):
    for i in range(4):
        tb("send", "c", f"m{i}", "--no-wake")
        payload = {"session_id": "x"} if flag is None else {"stop_hook_active": flag}
        p = stop(payload)
        assert p.returncode == 0
        assert (p.out != "") == (i < 3), (i, p.out)  # never reset: the budget holds


@pytest.mark.parametrize("raw", [b"", b"{not json", b"\xff\xfe", b"[1,2]", b"null"])
def test_malformed_input_exit_0_and_logged(claude, raw):
    tb("send", "c", "kept", "--no-wake")
    p = stop(raw)
    assert p.returncode == 0 and p.out == "" and "Traceback" not in p.err
    assert events_of("hook_error")
    assert tb_json("status")["sessions"][0]["pending"] == 1


def test_hook_never_fails_without_session_or_with_bad_config(claude, short_tmp):
    p = stop({"stop_hook_active": False}, session=None)
    assert p.returncode == 0 and p.out == ""
    p = stop({"stop_hook_active": False}, session="../evil")
    assert p.returncode == 0 and p.out == ""
    p = stop({"stop_hook_active": False}, session="ghost")
    assert p.returncode == 0 and p.out == ""
    (short_tmp / "config.yaml").write_text("block_budget: [broken\n")
    tb_json_env = dict(os.environ)
    tb("send", "c", "still delivered", "--no-wake", env={**tb_json_env, "TERMBRIDGE_CONFIG": "/nonexistent"})
    p = stop({"stop_hook_active": False})
    assert p.returncode == 0 and "still delivered" in json.loads(p.out)["reason"]
    assert tb("events").returncode == 2  # every other command refuses the broken config
    assert len(events_of("hook_error", env={**tb_json_env, "TERMBRIDGE_CONFIG": "/nonexistent"})) >= 4


def test_session_from_environment(claude):
    tb("send", "c", "via env", "--no-wake")
    p = stop({"stop_hook_active": False}, session=None, env={**os.environ, "TERMBRIDGE_SESSION": "c"})
    assert "via env" in json.loads(p.out)["reason"]


@pytest.mark.parametrize(
    "agent,events",
    [
        ("claude", {"SessionStart": "session-start", "UserPromptSubmit": "prompt-submit", "Stop": "stop"}),
        ("codex", {"SessionStart": "session-start", "UserPromptSubmit": "prompt-submit", "Stop": "stop"}),
        ("gemini", {"SessionStart": "session-start", "BeforeAgent": "prompt-submit", "AfterAgent": "stop"}),
    ],
)
def test_agent_settings_snippets_are_valid(agent, events):
    """The ready-made snippets in shell/ are what `hooks install` writes, with a bare `termbridge`."""
    name = {"claude": "claude/settings.json", "codex": "codex/hooks.json", "gemini": "gemini/settings.json"}[agent]
    cfg = json.loads((ROOT / "shell" / name).read_text())
    cmds = {k: v[0]["hooks"][0]["command"] for k, v in cfg["hooks"].items()}
    assert cmds == {k: f"termbridge hook {e} --agent {agent}" for k, e in events.items()}


def test_codex_notify_script(home, sleeper):
    """Codex runs notify with a JSON argument; the script registers its parent (Codex) and marks idle."""
    script = ROOT / "shell" / "codex" / "notify.sh"
    env = {**os.environ, "TERMBRIDGE_SESSION": "cx", "PATH": f"{Path(os.sys.executable).parent}:{os.environ['PATH']}"}
    parent = subprocess.Popen(
        ["bash", "-c", f'bash {script} "$1"; sleep 30', "_", '{"type":"agent-turn-complete"}'], env=env
    )
    try:
        retry_until(lambda: any(s["name"] == "cx" for s in tb_json("sessions")["sessions"]), 15)
        s = next(s for s in tb_json("sessions")["sessions"] if s["name"] == "cx")
        assert s["pid"] == parent.pid and s["kind"] == "codex"
        retry_until(lambda: (Path(os.environ["TERMBRIDGE_HOME"]) / "sessions" / "cx" / "mark.json").exists())
        assert subprocess.run(["bash", str(script), '{"type":"other"}'], env=env).returncode == 0
    finally:
        parent.kill()
        parent.wait()


BASH_RC = ROOT / "shell" / "bash" / "termbridge.bash"


def _bash(cmd, interactive=True, home_dir=None):
    env = {"HOME": str(home_dir), "PATH": os.environ["PATH"], "TERM": "dumb"}
    args = ["bash", "--noprofile", "--norc"] + (["-i"] if interactive else []) + ["-c", cmd]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=30, stdin=subprocess.DEVNULL)


def test_bash_integration_guarded_and_appending(short_tmp):
    p = _bash(f'source {BASH_RC}; echo "[$PROMPT_COMMAND]"', interactive=False, home_dir=short_tmp)
    assert p.stdout.strip() == "[]"  # not interactive: nothing installed
    p = _bash(
        f'PROMPT_COMMAND="user_hook"; source {BASH_RC}; source {BASH_RC}; echo "[$PROMPT_COMMAND]"; '
        "declare -F _tb_prompt _tb_mark",
        home_dir=short_tmp,
    )
    lines = p.stdout.strip().splitlines()
    assert lines[0] == "[_tb_prompt;user_hook]"  # appended once, the user's hook kept
    assert lines[1:] == ["_tb_prompt", "_tb_mark"]
    p = _bash(f'PROMPT_COMMAND=(a b); source {BASH_RC}; echo "${{PROMPT_COMMAND[@]}}"', home_dir=short_tmp)
    assert p.stdout.strip() == "a b _tb_prompt"


def test_bash_prompt_marks_drive_the_pty_wrapper(home, short_tmp):
    """bash -i under `termbridge run`: its prompt reads idle; a shell gets only the inert nudge, never peer text."""
    from test_wrapper import Term

    fresh = short_tmp / "fresh-home"
    fresh.mkdir()
    env_keep = dict(os.environ)
    os.environ.update(HOME=str(fresh), TERMBRIDGE_SESSION="sh")
    try:
        t = Term(["--name", "sh", "--kind", "shell", "--", "bash", "--noprofile", "--rcfile", str(BASH_RC), "-i"])
        try:
            t.read(b"\x1b]133;A\x07")
            time.sleep(0.7)
            assert tb_json("status")["sessions"][0]["surface"] == "idle"
            tb("send", "sh", "$(touch /tmp/tb-pwned) rm -rf ~", "--from", "peer", "--no-wake")
            p = tb("drain", "sh")
            assert p.returncode == 0 and "drain --print" in p.err
            t.read(b"true termbridge: peer messages wait for sh. Read them with: termbridge drain sh --print")
            time.sleep(0.5)
            assert b"touch" not in t.out and not Path("/tmp/tb-pwned").exists() and fresh.exists()
            assert tb_json("status")["sessions"][0]["pending"] == 1  # read with drain --print
            assert "$(touch /tmp/tb-pwned)" in tb("drain", "sh", "--print").out
        finally:
            t.proc.kill()
            t.proc.wait()
    finally:
        os.environ.clear()
        os.environ.update(env_keep)
