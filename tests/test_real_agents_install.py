"""Opt-in tier: `termbridge hooks install|uninstall` against the real agents, offline (docs/agents.md).

- Codex 0.171 warns at every start that `[features] codex_hooks` is deprecated. A config that
  `hooks install` wrote (from one holding the old flag, as termbridge 0.2 wrote it) starts
  without that warning; the person trusts the hooks in Codex's own screen; `hooks uninstall`
  removes Codex's trust entries and the hooks file, and Codex starts with no review screen.
- Gemini CLI 0.61 reads a commented settings.json that `hooks install` edited, runs the hooks
  (SessionStart registers it, AfterAgent hands a message over), and `hooks uninstall` gives the
  file back byte for byte.

    TERMBRIDGE_REAL_AGENTS=/root/.cache/termbridge-agents/node_modules/.bin \\
        .venv/bin/python -m pytest tests/test_real_agents_install.py
"""

from __future__ import annotations

import json
import os
import re
import time
import tomllib
from pathlib import Path

import pytest
from agent_stub import AgentStub
from helpers import retry_until, tb, tb_json
from real_agent_lab import READY, agent_setup, needs_agents, reap_codex_daemons, session_of

from termbridge import proctree

pytestmark = [
    pytest.mark.timeout(400),
    needs_agents,  # the one gate of every real tier (real_agent_lab)
]


@pytest.fixture
def stub():
    s = AgentStub()
    yield s
    s.close()


def screen(lab, pane) -> str:
    return lab.tmux("capture-pane", "-p", "-t", pane.pane_id)


def start(lab, pane, command: str):
    """Run COMMAND in PANE (a new pane when PANE is None), the agent before it killed."""
    if pane is None:
        return lab.pane(command)
    # Codex's daemon (its stock mode) outlives the TUI and keeps the config it read: end it too, so
    # the next start reads the config as it is now; wait only for the pane's own processes.
    reap_codex_daemons()
    sid = _sid(int(pane.pane_pid))
    old = {p for p in [int(pane.pane_pid), *proctree.descendants(int(pane.pane_pid))] if _sid(p) == sid}
    lab.tmux("respawn-pane", "-k", "-t", pane.pane_id, command)
    retry_until(lambda: not old & set(_alive(old)), 15, 0.2)  # every process of the last run is gone
    return pane


def _sid(pid: int) -> int | None:
    try:
        return session_of(pid)
    except OSError:
        return None


def _alive(pids) -> list[int]:
    return [p for p in pids if os.path.exists(f"/proc/{p}") and "Z" not in _state(p)]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def codex_warnings(lab, pane) -> str:
    """Every warning Codex shows at start-up (its footer says `⚠ N warnings · f2 to view`): the
    text of each page of its F2 list. Never dismissed (Esc would), so the next start shows them again."""
    # The footer's warning count comes a moment after the composer (in Codex's daemon mode, from
    # the daemon: seconds on its first start); offline, Codex always has at least one warning.
    try:
        retry_until(lambda: "f2 to view" in screen(lab, pane), 15, 0.2)
    except AssertionError:
        return ""
    # The daemon adds its config's warnings after its own start-up ones: wait until the count holds.
    counts = []

    def settled() -> bool:
        m = re.search(r"⚠ (\d+) warning", screen(lab, pane))
        counts.append(m.group(1) if m else "")
        return len(counts) >= 8 and len(set(counts[-8:])) == 1

    retry_until(settled, 20, 0.25)
    lab.tmux("send-keys", "-t", pane.pane_id, "F2")
    first = retry_until(lambda: "Warnings · 1 of" in screen(lab, pane) and screen(lab, pane), 10, 0.2)
    total = int(first.split("Warnings · 1 of ", 1)[1].split()[0])
    pages = [first]
    for n in range(2, total + 1):
        lab.tmux("send-keys", "-t", pane.pane_id, "Right")
        pages.append(retry_until(lambda n=n: f"Warnings · {n} of" in screen(lab, pane) and screen(lab, pane), 10, 0.2))
    return "\n".join(pages)


def test_codex_config_from_hooks_install_starts_without_the_deprecation_warning(lab, short_tmp, stub):
    home, work = short_tmp / "codex-home", short_tmp / "work"
    home.mkdir()
    work.mkdir()
    codex = f"cd {work} && exec env {agent_setup('codex', home, work, stub.port)}"
    config = home / ".codex" / "config.toml"
    # The config as termbridge 0.2 left it: the old flag.
    config.write_text(config.read_text() + "[features]\ncodex_hooks = true\n")
    env = {**os.environ, "HOME": str(home), "CODEX_HOME": str(home / ".codex")}

    # Control: Codex names the old flag (the check below can see the warning).
    pane = start(lab, None, codex)
    retry_until(lambda: READY["codex"] in screen(lab, pane), 90, 0.3)
    warnings = codex_warnings(lab, pane)
    assert "`[features].codex_hooks` is deprecated" in warnings, warnings

    original = config.read_text()  # (Codex adds a table of its own at start)
    p = tb("hooks", "install", "--agent", "codex", env=env)
    assert p.returncode == 0, p.err
    assert config.read_text() == original.replace("codex_hooks = true", "hooks = true")
    pane = start(lab, pane, codex)
    retry_until(lambda: "Hooks need review" in screen(lab, pane), 90, 0.3)  # Codex's own trust screen

    def trusted() -> bool:  # the person picks "2. Trust all and continue" (a key pressed while the
        if READY["codex"] in screen(lab, pane):  # screen is still being set up can be lost: again)
            return True
        if "› 2." not in screen(lab, pane):
            lab.tmux("send-keys", "-t", pane.pane_id, "2")
            time.sleep(0.5)
        if "› 2." in screen(lab, pane):
            lab.tmux("send-keys", "-t", pane.pane_id, "Enter")
            time.sleep(1.0)
        return READY["codex"] in screen(lab, pane)

    retry_until(trusted, 60, 0.3)
    warnings = codex_warnings(lab, pane)
    assert "deprecated" not in warnings and "codex_hooks" not in warnings, warnings
    state = retry_until(lambda: tomllib.loads(config.read_text()).get("hooks", {}).get("state"), 30, 0.3)
    assert len(state) == 3 and all(v.get("trusted_hash") for v in state.values())  # Codex wrote its trust

    pane = start(lab, pane, "sleep 600")
    p = tb("hooks", "uninstall", "--agent", "codex", env=env)
    assert p.returncode == 0, p.err
    assert "removed Codex's trust entries of 3 termbridge hook(s)" in p.out
    assert "hooks" not in tomllib.loads(config.read_text())  # no trust left for hooks that are gone
    assert not (home / ".codex" / "hooks.json").exists()  # termbridge created it; it would hold `{}`
    pane = start(lab, pane, codex)
    retry_until(lambda: READY["codex"] in screen(lab, pane), 90, 0.3)
    assert "Hooks need review" not in screen(lab, pane)
    assert "deprecated" not in codex_warnings(lab, pane)


GEMINI_SETTINGS = """// Gemini CLI settings for the offline lab, as a person keeps them: with comments.
{
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    /* no retries: the model is a stub on loopback,
       and no auto-update (offline) */
    "general": {"maxAttempts": 1, "retryFetchErrors": false, "enableAutoUpdate": false},
    "model": {"name": "gemini-2.5-pro"}, // a router model would be asked first otherwise
    "ui": {"hideTips": true, "hideBanner": true}
}
"""


def test_gemini_runs_the_hooks_from_a_commented_settings_file(lab, short_tmp, stub):
    home, work = short_tmp / "gemini-home", short_tmp / "work"
    home.mkdir()
    work.mkdir()
    gemini = f"cd {work} && exec env {agent_setup('gemini', home, work, stub.port)}"
    settings = home / ".gemini" / "settings.json"
    settings.write_text(GEMINI_SETTINGS)
    env = {**os.environ, "HOME": str(home)}
    p = tb("hooks", "install", "--agent", "gemini", env=env)
    assert p.returncode == 0, p.err
    installed = settings.read_text()
    assert "// a router model would be asked first otherwise" in installed

    pane = start(lab, None, gemini)
    retry_until(lambda: READY["gemini"] in screen(lab, pane), 90, 0.3)
    assert "Error in" not in screen(lab, pane)  # Gemini read the edited file
    stub.hold()
    lab.tmux("send-keys", "-t", pane.pane_id, "-l", "start working")
    time.sleep(0.4)  # past Gemini's fast-return window
    lab.tmux("send-keys", "-t", pane.pane_id, "Enter")
    retry_until(stub.waiting.is_set, 60, 0.2)
    row = retry_until(lambda: [s for s in tb_json("sessions")["sessions"] if s["name"] == "gemini"], 30, 0.3)[0]
    kids = proctree.descendants(int(pane.pane_pid))
    assert row["kind"] == "gemini" and row["pid"] == (kids[-1] if kids else int(pane.pane_pid))  # SessionStart ran
    before = len(stub.main_requests())
    mid = tb_json("send", "gemini", "peer note from the commented-settings test", "--from", "peer", "--no-wake")["id"]
    stub.release()
    hit = retry_until(lambda: [q for q in stub.main_requests()[before:] if mid in json.dumps(q["body"])], 90, 0.3)
    assert "commented-settings test" in json.dumps(hit[0]["body"])  # AfterAgent handed it over to the model
    errors = [e for e in map(json.loads, tb("events", "--json").out.splitlines()) if e["event"] == "hook_error"]
    assert errors == []

    start(lab, pane, "sleep 600")
    # Gemini rewrites its settings itself (comment-json, 2-space indent) when it migrates a key it
    # renamed (measured: `general.disableAutoUpdate`); these hold none, so the file is as installed.
    assert settings.read_text() == installed
    assert tb("hooks", "uninstall", "--agent", "gemini", env=env).returncode == 0
    assert settings.read_text() == GEMINI_SETTINGS  # byte for byte
