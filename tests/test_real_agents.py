"""Opt-in tier: the built-in per-kind patterns and delivery against the REAL Codex, Claude Code
and Gemini CLI, offline (scratch HOME, API endpoint on loopback). Several hundred MB each, so
not in every CI run. To run it:

    npm install --prefix /tmp/agents @openai/codex@0.171.0 @anthropic-ai/claude-code@2.1.197 @google/gemini-cli@0.61.0
    TERMBRIDGE_REAL_AGENTS=/tmp/agents/node_modules/.bin .venv/bin/python -m pytest tests/test_real_agents.py
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
from conftest import retry_until, tb, tb_json
from real_agent_lab import BIN, KEY, READY

from termbridge import proctree

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not BIN, reason="opt-in: set TERMBRIDGE_REAL_AGENTS to a dir with codex, claude and gemini"),
]


class Endpoint:
    """A loopback API: mode '401' refuses every request at once; 'hang' never answers (a busy agent)."""

    def __init__(self, mode: str):
        self.mode, self.held = mode, []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.mode == "hang":
                self.held.append(c)
                continue
            try:
                c.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                body = b'{"error":{"message":"invalid key","type":"authentication_error"}}'
                c.sendall(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\nConnection: close\r\n\r\n"
                    + body
                )
            except OSError:
                pass
            finally:
                c.close()

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def _agent_command(kind: str, home: Path, work: Path, port: int) -> str:
    """Scratch config for KIND (see REAL_AGENTS.md) and the command that starts it."""
    if kind == "codex":
        (home / ".codex").mkdir(parents=True)
        (home / ".codex" / "config.toml").write_text(
            f'model_provider = "offline"\ncheck_for_update_on_startup = false\n'
            f'[model_providers.offline]\nname = "offline"\nbase_url = "http://127.0.0.1:{port}/v1"\n'
            f'env_key = "OPENAI_API_KEY"\nwire_api = "responses"\n[features]\ndaemon_auto_start = false\n'
            f'[tui]\nscreen_reader_detection_done = true\n[projects."{work}"]\ntrust_level = "trusted"\n'
        )
        return f"env HOME={home} CODEX_HOME={home}/.codex OPENAI_API_KEY=sk-dummy {BIN}/codex"
    if kind == "claude":
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
        return (
            f"env HOME={home} ANTHROPIC_API_KEY={KEY} ANTHROPIC_BASE_URL=http://127.0.0.1:{port} "
            f"CLAUDE_CODE_MAX_RETRIES=0 DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 {BIN}/claude"
        )
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "settings.json").write_text(
        json.dumps(
            {
                "security": {"auth": {"selectedType": "gemini-api-key"}},
                "general": {"maxAttempts": 1, "retryFetchErrors": False, "disableAutoUpdate": True},
                "ui": {"hideTips": True, "hideBanner": True},
            }
        )
    )
    (home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(work): "TRUST_FOLDER"}))
    return (
        f"env HOME={home} GEMINI_API_KEY=dummy GEMINI_CLI_NO_RELAUNCH=true "
        f"GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:{port} {BIN}/gemini"
    )


def _recorded(home: Path, needle: str) -> bool:
    """The agent's own transcript (rollout / project jsonl / logs.json) contains NEEDLE."""
    for p in home.rglob("*"):
        if p.is_file() and p.suffix in (".jsonl", ".json") and p.stat().st_size < 50_000_000:
            if needle in p.read_text(errors="replace"):
                return True
    return False


def start(lab, short_tmp, kind: str, mode: str):
    endpoint = Endpoint(mode)
    home, work = short_tmp / f"{kind}-{mode}-home", short_tmp / "work"
    home.mkdir()
    work.mkdir(exist_ok=True)
    pane = lab.pane(f"cd {work} && exec {_agent_command(kind, home, work, endpoint.port)}")
    retry_until(lambda: READY[kind] in lab.tmux("capture-pane", "-p", "-t", pane.pane_id), 60, 0.2)
    time.sleep(1.0)
    kids = proctree.descendants(int(pane.pane_pid))
    pid = kids[-1] if kids else int(pane.pane_pid)  # the TUI is the deepest descendant
    assert tb("register", kind, "--pid", pid, "--kind", kind).returncode == 0
    return pane, home, endpoint


@pytest.mark.parametrize("kind", ["codex", "claude", "gemini"])
def test_idle_draft_and_drain_into_the_real_agent(lab, short_tmp, kind):
    pane, home, endpoint = start(lab, short_tmp, kind, "401")
    try:
        assert tb_json("status")["sessions"][0]["state"] == "idle"
        for ch in "my draft":  # a human typing
            lab.tmux("send-keys", "-t", pane.pane_id, "-l", ch)
            time.sleep(0.05)
        time.sleep(0.5)
        ids = [
            tb_json("send", kind, body, "--from", "peer", "--no-wake")["id"] for body in ("first note", "second\nnote")
        ]
        assert tb_json("wake", kind)["outcome"] == "skipped_busy"
        assert tb("drain", kind).returncode == 4
        assert "my draft" in lab.tmux("capture-pane", "-p", "-t", pane.pane_id)  # left exactly as it was
        lab.tmux("send-keys", "-t", pane.pane_id, "C-u")
        time.sleep(1.0)
        p = tb("drain", kind)
        assert p.returncode == 0, p.err
        retry_until(lambda: all(_recorded(home, i) for i in ids), 30, 0.5)  # one framed submission, both ids
        assert not _recorded(home, "my draft")
    finally:
        endpoint.close()


@pytest.mark.parametrize("kind", ["codex", "claude", "gemini"])
def test_busy_real_agent_gets_nothing(lab, short_tmp, kind):
    pane, home, endpoint = start(lab, short_tmp, kind, "hang")
    try:
        assert tb("submit", kind, "start working").returncode == 0
        retry_until(lambda: tb_json("status")["sessions"][0]["state"] == "busy", 15, 0.3)
        tb("send", kind, "must wait", "--no-wake")
        assert tb_json("wake", kind)["outcome"] == "skipped_busy"
        p = tb("drain", kind)
        assert p.returncode == 4 and "busy (working:" in p.err
        assert tb_json("status")["sessions"][0]["pending"] == 1
    finally:
        endpoint.close()
