"""The real agents offline, for the opt-in tiers and the screen captures: scratch config per
agent (see /work/shared/REAL_AGENTS.md), a model API stub on loopback (agent_stub.py), and
the command line that starts each agent in a tmux pane."""

from __future__ import annotations

import json
import os
from pathlib import Path

BIN = os.environ.get("TERMBRIDGE_REAL_AGENTS", "")
KEY = "sk-ant-api03-dummydummydummydummydummy0123456789"
READY = {"codex": "? for shortcuts", "claude": "? for shortcuts", "gemini": "Type your message"}
DIALOG = {
    "codex": "Would you like to run the following command?",
    "claude": "Do you want to proceed?",
    "gemini": "Allow execution",
}
TRUST = {"codex": "trust", "claude": "trust", "gemini": "trust"}
TERMS = {"screen": "env -u COLORTERM TERM=screen", "truecolor": "env COLORTERM=truecolor TERM=xterm-256color"}
DRAFT = "fix the flaky login test, then rerun it"
COMMAND = "touch /tmp/tb-approved-marker"
VERSIONS = {"codex": "0.171.0", "claude": "2.1.197", "gemini": "0.61.0"}


def agent_setup(kind: str, home: Path, work: Path, port: int, trusted: bool = True) -> str:
    """Scratch config for KIND (REAL_AGENTS.md); the command line that starts it (without env prefix)."""
    if kind == "codex":
        (home / ".codex").mkdir(parents=True)
        trust = f'[projects."{work}"]\ntrust_level = "trusted"\n' if trusted else ""
        # An explicit approval policy skips Codex's trust screen: only the trusted runs set one.
        policy = 'approval_policy = "on-request"\nsandbox_mode = "read-only"\n' if trusted else ""
        (home / ".codex" / "config.toml").write_text(
            f'model_provider = "offline"\ncheck_for_update_on_startup = false\n{policy}'
            f'[model_providers.offline]\nname = "offline"\nbase_url = "http://127.0.0.1:{port}/v1"\n'
            f'env_key = "OPENAI_API_KEY"\nwire_api = "responses"\n[features]\ndaemon_auto_start = false\n'
            f"[tui]\nscreen_reader_detection_done = true\n{trust}"
        )
        return f"HOME={home} CODEX_HOME={home}/.codex OPENAI_API_KEY=sk-dummy {BIN}/codex"
    if kind == "claude":
        (home / ".claude").mkdir(parents=True)
        proj = {str(work): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}} if trusted else {}
        (home / ".claude.json").write_text(
            json.dumps(
                {
                    "hasCompletedOnboarding": True,
                    "theme": "dark",
                    "customApiKeyResponses": {"approved": [KEY[-20:]], "rejected": []},
                    "projects": proj,
                }
            )
        )
        return (
            f"HOME={home} ANTHROPIC_API_KEY={KEY} ANTHROPIC_BASE_URL=http://127.0.0.1:{port} "
            f"CLAUDE_CODE_MAX_RETRIES=0 DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 {BIN}/claude"
        )
    (home / ".gemini").mkdir(parents=True)
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"maxAttempts": 1, "retryFetchErrors": False, "disableAutoUpdate": True},
        "model": {"name": "gemini-2.5-pro"},
        "ui": {"hideTips": True, "hideBanner": True},
    }
    if not trusted:
        settings["security"]["folderTrust"] = {"enabled": True}
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    if trusted:
        (home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(work): "TRUST_FOLDER"}))
    return (
        f"HOME={home} GEMINI_API_KEY=dummy GEMINI_CLI_NO_RELAUNCH=true "
        f"GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:{port} {BIN}/gemini"
    )
