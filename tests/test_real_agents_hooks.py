"""Opt-in tier: termbridge's hooks in REAL turns of Codex, Claude Code and Gemini CLI, offline.

Each agent runs in a tmux pane with a scratch HOME, its hooks installed by
`termbridge hooks install`, and its model API on loopback (tests/agent_stub.py), so it
finishes real turns, runs its hooks and raises its permission dialog. Checked per agent:
SessionStart registers the agent's own PID and resolves to its pane; a message sent while
it works is handed over by Stop/AfterAgent and reaches the model (it is in the next request
the stub receives); prompt-submit turns a drained message's receipt `received`; a
permission dialog is never approved by anything termbridge types. To run it:

    npm install --prefix /tmp/agents @openai/codex@0.171.0 @anthropic-ai/claude-code@2.1.197 @google/gemini-cli@0.61.0
    TERMBRIDGE_REAL_AGENTS=/tmp/agents/node_modules/.bin .venv/bin/python -m pytest tests/test_real_agents_hooks.py
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from agent_stub import AgentStub
from conftest import retry_until, tb, tb_json
from real_agent_lab import BIN, DIALOG, KEY, READY

from termbridge import proctree

pytestmark = [
    pytest.mark.timeout(400),
    pytest.mark.skipif(not BIN, reason="opt-in: set TERMBRIDGE_REAL_AGENTS to a dir with codex, claude and gemini"),
]


def _setup(kind: str, home: Path, work: Path, port: int) -> tuple[str, dict]:
    """Scratch config for KIND (REAL_AGENTS.md) plus the env `hooks install` needs; the launch command."""
    env = {**os.environ, "HOME": str(home), "CODEX_HOME": str(home / ".codex")}
    if kind == "codex":
        (home / ".codex").mkdir(parents=True)
        (home / ".codex" / "config.toml").write_text(
            f'# scratch Codex config\nmodel_provider = "offline"\ncheck_for_update_on_startup = false\n'
            f'approval_policy = "on-request"\nsandbox_mode = "read-only"\n'
            f'[model_providers.offline]\nname = "offline"\nbase_url = "http://127.0.0.1:{port}/v1"\n'
            f'env_key = "OPENAI_API_KEY"\nwire_api = "responses"\n[features]\ndaemon_auto_start = false\n'
            f'[tui]\nscreen_reader_detection_done = true\n[projects."{work}"]\ntrust_level = "trusted"\n'
        )
        cmd = (
            f"env HOME={home} CODEX_HOME={home}/.codex OPENAI_API_KEY=sk-dummy {BIN}/codex "
            "--dangerously-bypass-hook-trust"
        )
    elif kind == "claude":
        (home / ".claude").mkdir(parents=True)
        (home / ".claude.json").write_text(
            json.dumps(
                {
                    "hasCompletedOnboarding": True,
                    "theme": "dark",
                    "customApiKeyResponses": {"approved": [KEY[-20:]], "rejected": []},
                    "projects": {str(work): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}},
                }
            )
        )
        cmd = (
            f"env HOME={home} ANTHROPIC_API_KEY={KEY} ANTHROPIC_BASE_URL=http://127.0.0.1:{port} "
            f"CLAUDE_CODE_MAX_RETRIES=0 DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 {BIN}/claude"
        )
    else:
        (home / ".gemini").mkdir(parents=True)
        (home / ".gemini" / "settings.json").write_text(
            json.dumps(
                {
                    "security": {"auth": {"selectedType": "gemini-api-key"}},
                    "general": {"maxAttempts": 1, "retryFetchErrors": False, "disableAutoUpdate": True},
                    "model": {"name": "gemini-2.5-pro"},
                    "ui": {"hideTips": True, "hideBanner": True},
                }
            )
        )
        (home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(work): "TRUST_FOLDER"}))
        cmd = (
            f"env HOME={home} GEMINI_API_KEY=dummy GEMINI_CLI_NO_RELAUNCH=true "
            f"GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:{port} {BIN}/gemini"
        )
    return cmd, env


def start(lab, short_tmp, kind, ready=None, bypass_trust=True):
    stub = AgentStub()
    home, work = short_tmp / f"{kind}-home", short_tmp / "work"
    home.mkdir()
    work.mkdir(exist_ok=True)
    cmd, env = _setup(kind, home, work, stub.port)
    if not bypass_trust:
        cmd = cmd.replace(" --dangerously-bypass-hook-trust", "")
    p = tb("hooks", "install", "--agent", kind, env=env)
    assert p.returncode == 0, p.err
    pane = lab.pane(f"cd {work} && exec {cmd}")
    retry_until(lambda: (ready or READY[kind]) in screen(lab, pane), 90, 0.3)
    time.sleep(1.0)
    return stub, pane, home


def screen(lab, pane) -> str:
    return lab.tmux("capture-pane", "-p", "-t", pane.pane_id)


def type_prompt(lab, pane, text: str) -> None:
    lab.tmux("send-keys", "-t", pane.pane_id, "-l", text)
    time.sleep(0.4)  # past every agent's paste-burst Enter window
    lab.tmux("send-keys", "-t", pane.pane_id, "Enter")


def tui_pid(pane) -> int:
    kids = proctree.descendants(int(pane.pane_pid))
    return kids[-1] if kids else int(pane.pane_pid)  # the TUI is the deepest descendant


def session(kind):
    rows = [s for s in tb_json("sessions")["sessions"] if s["name"] == kind]
    return rows[0] if rows else None


def receipts_log(kind) -> list[dict]:
    path = Path(os.environ["TERMBRIDGE_HOME"]) / "sessions" / kind / "receipts.log"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("kind", ["codex", "claude", "gemini"])
def test_hooks_register_hand_over_and_receive(lab, short_tmp, kind):
    stub, pane, home = start(lab, short_tmp, kind)
    try:
        stub.hold()
        type_prompt(lab, pane, "start working")
        retry_until(stub.waiting.is_set, 60, 0.2)  # the agent is in its turn, its model request held
        # SessionStart (Codex: at the first turn) registered the agent itself, found in the pane.
        s = retry_until(lambda: session(kind), 30, 0.3)
        assert s["pid"] == tui_pid(pane) and s["kind"] == kind
        r = tb_json("resolve", kind)
        assert r["backend"] == "tmux" and r["target"] == f"tmux:{pane.pane_id}"
        # A message sent while it works is handed over when the turn ends, and reaches the model.
        before = len(stub.main_requests())
        mid = tb_json("send", kind, "peer note: please also check the README", "--from", "peer", "--no-wake")["id"]
        stub.release()
        hit = retry_until(lambda: [q for q in stub.main_requests()[before:] if mid in json.dumps(q["body"])], 90, 0.3)
        assert "please also check the README" in json.dumps(hit[0]["body"])
        assert tb_json("status")["sessions"][0]["pending"] == 0
        assert any(e["id"] == mid and e["via"] == "hook" and e["state"] == "submitted" for e in receipts_log(kind))
        # Back at its composer: a drained message's receipt turns `received` through prompt-submit.
        retry_until(lambda: READY[kind] in screen(lab, pane) or kind == "codex", 60, 0.5)
        time.sleep(1.5)
        mid2 = tb_json("send", kind, "drained note", "--from", "peer", "--no-wake")["id"]
        retry_until(lambda: tb("drain", kind).returncode == 0, 60, 1.0)
        retry_until(
            lambda: any(
                e["id"] == mid2 and e["state"] == "received" and e["via"] == f"hook:{kind}" for e in receipts_log(kind)
            ),
            60,
            0.5,
        )
        assert retry_until(lambda: stub.seen(mid2), 60, 0.5)
        errors = [e for e in map(json.loads, tb("events", "--json").out.splitlines()) if e["event"] == "hook_error"]
        assert errors == []  # every hook call understood its agent's input
    finally:
        stub.close()


@pytest.mark.parametrize("kind", ["codex", "claude", "gemini"])
def test_permission_dialog_is_never_approved_by_termbridge(lab, short_tmp, kind):
    stub, pane, home = start(lab, short_tmp, kind)
    marker = short_tmp / "approved"
    try:
        stub.next_tool_call(f"touch {marker}")
        type_prompt(lab, pane, "run the command")
        retry_until(lambda: DIALOG[kind] in screen(lab, pane), 90, 0.3)
        time.sleep(1.0)
        n = len(stub.main_requests())
        retry_until(lambda: session(kind), 30, 0.3)
        tb("send", kind, "a peer message arrives during the dialog", "--no-wake")
        row = tb_json("status")["sessions"][0]
        if "surface" in row:
            assert row["surface"] == "dialog", row
        for args in (["drain", kind], ["drain", kind, "--force"], ["wake", kind], ["drain", "--pane", pane.pane_id]):
            tb(*args)
            time.sleep(1.0)
        assert DIALOG[kind] in screen(lab, pane)  # still waiting for its human
        assert not marker.exists()  # nothing approved it
        assert len(stub.main_requests()) == n  # no tool result went back to the model
        assert tb_json("status")["sessions"][0]["pending"] == 1  # the message waits, not lost
    finally:
        stub.close()


def test_codex_asks_its_user_to_trust_the_installed_hooks(lab, short_tmp):
    """termbridge never writes Codex's trust state: a fresh install meets Codex's own review screen."""
    stub, pane, home = start(lab, short_tmp, "codex", ready="Hooks need review", bypass_trust=False)
    try:
        config = (home / ".codex" / "config.toml").read_text()
        assert "\nhooks = true" in config and "codex_hooks" not in config and "trusted_hash" not in config
        assert session("codex") is None  # nothing ran before the user trusted the hooks
        env = {
            **os.environ,
            "HOME": str(home),
            "CODEX_HOME": str(home / ".codex"),
            "PATH": f"{BIN}:{os.environ['PATH']}",
        }
        doctor = lambda: {c["name"]: c for c in json.loads(tb("doctor", "--json", env=env).out)["checks"]}  # noqa: E731
        assert "not trusted yet" in doctor()["codex hooks"]["detail"]
        lab.tmux("send-keys", "-t", pane.pane_id, "2")  # the user picks "Trust all and continue"
        time.sleep(0.5)
        lab.tmux("send-keys", "-t", pane.pane_id, "Enter")
        retry_until(lambda: "trusted_hash" in (home / ".codex" / "config.toml").read_text(), 30, 0.3)
        assert doctor()["codex hooks"]["status"] == "ok"  # doctor reads Codex's own trust records
    finally:
        stub.close()
