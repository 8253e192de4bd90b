"""`termbridge hooks install|uninstall`: round trips on real settings files in a scratch HOME,
and doctor's hook checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import tb

pytestmark = pytest.mark.timeout(120)

USER_CLAUDE = {
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "audit.sh"}]}],
    },
}
CODEX_TOML = """# my Codex config: comments and layout must survive
model = "gpt-5"  # inline comment

[features]
# features comment
web_search = true

[projects."/work"]
trust_level = "trusted"
"""


@pytest.fixture
def scratch(home, short_tmp, monkeypatch):
    """A scratch HOME (and CODEX_HOME, cwd) for the agents' settings."""
    h = short_tmp / "user"
    (h / "proj").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.setenv("CODEX_HOME", str(h / ".codex"))
    monkeypatch.chdir(h / "proj")
    return h


def files_under(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def ours(cfg: dict) -> list[str]:
    return [
        h["command"]
        for groups in cfg.get("hooks", {}).values()
        for g in groups
        for h in g["hooks"]
        if "termbridge" in h["command"] and " hook " in h["command"]
    ]


def test_claude_round_trip_keeps_user_hooks_and_keys(scratch):
    path = scratch / ".claude" / "settings.json"
    path.parent.mkdir()
    original = json.dumps(USER_CLAUDE, indent=4)
    path.write_text(original)
    p = tb("hooks", "install", "--agent", "claude")
    assert p.returncode == 0, p.err
    assert f"updated {path}" in p.out
    cfg = json.loads(path.read_text())
    assert cfg["model"] == "opus" and cfg["permissions"] == USER_CLAUDE["permissions"]
    assert cfg["hooks"]["PreToolUse"] == USER_CLAUDE["hooks"]["PreToolUse"]
    assert cfg["hooks"]["Stop"][0] == USER_CLAUDE["hooks"]["Stop"][0]  # the user's own Stop hook, first
    assert len(ours(cfg)) == 3
    cmds = {k: v[-1]["hooks"][0]["command"] for k, v in cfg["hooks"].items() if k != "PreToolUse"}
    assert cmds["SessionStart"].endswith("hook session-start --agent claude")
    assert cmds["UserPromptSubmit"].endswith("hook prompt-submit --agent claude")
    assert cmds["Stop"].endswith("hook stop --agent claude")
    assert (path.parent / "settings.json.termbridge-backup").read_text() == original
    after_first = path.read_bytes()
    p = tb("hooks", "install", "--agent", "claude")  # idempotent
    assert p.returncode == 0 and "already up to date" in p.out
    assert path.read_bytes() == after_first
    assert (path.parent / "settings.json.termbridge-backup").read_text() == original
    p = tb("hooks", "uninstall", "--agent", "claude")
    assert p.returncode == 0
    assert json.loads(path.read_text()) == USER_CLAUDE
    assert tb("hooks", "uninstall", "--agent", "claude").returncode == 0  # nothing left: fine
    assert json.loads(path.read_text()) == USER_CLAUDE


def test_install_replaces_the_old_snippet_lines(scratch):
    root = Path(__file__).resolve().parent.parent
    path = scratch / ".claude" / "settings.json"
    path.parent.mkdir()
    old = {
        "hooks": {
            "SessionStart": [
                {
                    "hooks": [
                        {
                            "type": "command",
                            "command": 'termbridge register "${TERMBRIDGE_SESSION:-claude}" --pid "$PPID" '
                            "--kind claude >/dev/null 2>&1 || true",
                        }
                    ]
                }
            ],
            "Stop": [
                {
                    "hooks": [
                        {
                            "type": "command",
                            "command": 'termbridge hook claude-stop --session "${TERMBRIDGE_SESSION:-claude}"',
                        },
                        {"type": "command", "command": "termbridge submit reviewer done"},
                    ]
                }
            ],
        }
    }
    path.write_text(json.dumps(old))
    assert tb("hooks", "install", "--agent", "claude").returncode == 0
    cfg = json.loads(path.read_text())
    all_cmds = [h["command"] for gs in cfg["hooks"].values() for g in gs for h in g["hooks"]]
    assert not any("register" in c or "claude-stop" in c for c in all_cmds)
    assert "termbridge submit reviewer done" in all_cmds  # a user's own termbridge use is kept
    assert len(ours(cfg)) == 3
    assert json.loads((root / "shell" / "claude" / "settings.json").read_text())  # the snippet still parses


def test_codex_install_keeps_toml_comments_and_never_writes_trust(scratch):
    codex = scratch / ".codex"
    codex.mkdir()
    (codex / "config.toml").write_text(CODEX_TOML)
    user_hooks = {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "guard.sh"}]}]}}
    (codex / "hooks.json").write_text(json.dumps(user_hooks))
    p = tb("hooks", "install", "--agent", "codex")
    assert p.returncode == 0, p.err
    assert "Hooks need review" in p.out and "never writes Codex's trust state" in p.out
    text = (codex / "config.toml").read_text()
    for line in CODEX_TOML.splitlines():
        assert line in text  # every comment and line kept
    cfg = tomllib.loads(text)
    assert cfg["features"] == {"web_search": True, "codex_hooks": True}
    assert "hooks" not in cfg  # no trust state written
    assert (codex / "config.toml.termbridge-backup").read_text() == CODEX_TOML
    hooks = json.loads((codex / "hooks.json").read_text())
    assert hooks["hooks"]["PreToolUse"] == user_hooks["hooks"]["PreToolUse"]
    assert sorted(hooks["hooks"]) == ["PreToolUse", "SessionStart", "Stop", "UserPromptSubmit"]
    assert all(g["hooks"][0]["timeout"] == 10 for k, gs in hooks["hooks"].items() if k != "PreToolUse" for g in gs)
    before = files_under(codex)
    assert tb("hooks", "install", "--agent", "codex").returncode == 0
    assert files_under(codex) == before  # idempotent, TOML included
    assert tb("hooks", "uninstall", "--agent", "codex").returncode == 0
    assert json.loads((codex / "hooks.json").read_text()) == user_hooks
    assert "codex_hooks = true" in (codex / "config.toml").read_text()  # left for the user's other hooks


def test_codex_install_from_nothing(scratch):
    assert tb("hooks", "install", "--agent", "codex").returncode == 0
    assert tomllib.loads((scratch / ".codex" / "config.toml").read_text()) == {"features": {"codex_hooks": True}}
    assert len(ours(json.loads((scratch / ".codex" / "hooks.json").read_text()))) == 3
    assert not list((scratch / ".codex").glob("*.termbridge-backup"))  # nothing existed to back up


def test_gemini_project_install(scratch):
    p = tb("hooks", "install", "--agent", "gemini", "--project")
    assert p.returncode == 0, p.err
    assert not (scratch / ".gemini").exists()
    cfg = json.loads((scratch / "proj" / ".gemini" / "settings.json").read_text())
    assert sorted(cfg["hooks"]) == ["AfterAgent", "BeforeAgent", "SessionStart"]
    h = cfg["hooks"]["AfterAgent"][0]["hooks"][0]
    assert (
        h["name"] == "termbridge-stop" and h["timeout"] == 10000 and h["command"].endswith("hook stop --agent gemini")
    )


@pytest.mark.parametrize(
    "agent,rel,bad",
    [
        ("claude", ".claude/settings.json", '{"hooks": {broken'),
        ("claude", ".claude/settings.json", "[1, 2]"),
        ("gemini", ".gemini/settings.json", '{"hooks": []}'),
        ("codex", ".codex/hooks.json", '{"hooks": {"Stop": {}}}'),
        ("claude", ".claude/settings.json", '{"model": "opus", "big": 1e400}'),  # not written back as Infinity
        ("claude", ".claude/settings.json", '{"n": NaN}'),
        ("gemini", ".gemini/settings.json", '{"name": "\\ud800"}'),  # a lone surrogate cannot be written back
        ("claude", ".claude/settings.json", '{"a": ' + "[" * 100000 + "]" * 100000 + "}"),
        ("codex", ".codex/config.toml", "[features\ncodex_hooks = true\n"),
    ],
)
def test_unparseable_settings_refused_nothing_written(scratch, agent, rel, bad):
    path = scratch / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(bad)
    before = files_under(scratch)
    for action in ("install", "uninstall"):
        p = tb("hooks", action, "--agent", agent)
        assert p.returncode == 2
        assert len(p.err.strip().splitlines()) == 1 and str(path) in p.err and "Traceback" not in p.err
    assert files_under(scratch) == before  # nothing written, no backup


def test_dry_run_prints_a_diff_and_writes_nothing(scratch):
    path = scratch / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text(json.dumps(USER_CLAUDE))
    (scratch / ".codex").mkdir()
    (scratch / ".codex" / "config.toml").write_text(CODEX_TOML)
    before = files_under(scratch)
    p = tb("hooks", "install", "--agent", "claude", "--dry-run")
    assert p.returncode == 0
    assert p.out.startswith(f"--- {path}\n+++ {path}\n") and "+" in p.out and "hook stop --agent claude" in p.out
    p = tb("hooks", "install", "--agent", "codex", "--dry-run")
    assert p.returncode == 0 and "+codex_hooks = true" in p.out and "--- /dev/null" in p.out
    assert files_under(scratch) == before


def test_command_option_and_the_written_command_runs(scratch, sleeper):
    """The command written into the settings is a real one: run it as the agent would (sh -c)."""
    p = tb("hooks", "install", "--agent", "codex", "--command", "/opt/tb/bin/tb")
    assert p.returncode == 0
    cfg = json.loads((scratch / ".codex" / "hooks.json").read_text())
    assert cfg["hooks"]["Stop"][0]["hooks"][0]["command"] == "/opt/tb/bin/tb hook stop --agent codex"
    assert tb("hooks", "uninstall", "--agent", "codex", "--command", "/opt/tb/bin/tb").returncode == 0
    assert "hooks" not in json.loads((scratch / ".codex" / "hooks.json").read_text())
    # The default: this termbridge, absolute (the console script beside this Python).
    assert tb("hooks", "install", "--agent", "codex").returncode == 0
    cmd = json.loads((scratch / ".codex" / "hooks.json").read_text())["hooks"]["Stop"][0]["hooks"][0]["command"]
    assert cmd.split()[0] == os.path.join(os.path.dirname(sys.executable), "termbridge")
    tb("register", "codex", "--pid", sleeper().pid, "--kind", "codex")
    tb("send", "codex", "via the installed command", "--no-wake")
    out = subprocess.run(["sh", "-c", cmd], input=b'{"stop_hook_active": false}', capture_output=True, timeout=60)
    assert out.returncode == 0 and "via the installed command" in json.loads(out.stdout)["reason"]


# ---------------------------------------------------------------- doctor
@pytest.fixture
def agents_on_path(scratch, monkeypatch):
    b = scratch / "bin"
    b.mkdir()
    for a in ("claude", "codex", "gemini"):
        (b / a).write_text("#!/bin/sh\n")
        (b / a).chmod(0o755)
    monkeypatch.setenv("PATH", f"{b}:{os.environ['PATH']}")
    return b


def hook_checks():
    data = json.loads(tb("doctor", "--json").out)
    return {c["name"]: c for c in data["checks"] if c["name"].endswith(" hooks")}


def test_doctor_reports_each_agent(agents_on_path, scratch):
    checks = hook_checks()
    assert {c["status"] for c in checks.values()} == {"skip"} and len(checks) == 3
    for a in ("claude", "codex", "gemini"):
        assert tb("hooks", "install", "--agent", a).returncode == 0
    checks = hook_checks()
    assert checks["claude hooks"]["status"] == "ok" and checks["gemini hooks"]["status"] == "ok"
    assert checks["codex hooks"]["status"] == "warn" and "not trusted yet" in checks["codex hooks"]["detail"]
    hooks_json = os.path.realpath(scratch / ".codex" / "hooks.json")
    with open(scratch / ".codex" / "config.toml", "a") as f:
        for ev in ("session_start", "user_prompt_submit", "stop"):
            f.write(f'\n[hooks.state."{hooks_json}:{ev}:0:0"]\ntrusted_hash = "sha256:00"\n')
    assert hook_checks()["codex hooks"]["status"] == "ok"
    cfg = json.loads((scratch / ".gemini" / "settings.json").read_text())
    cfg["hooksConfig"] = {"enabled": False}
    (scratch / ".gemini" / "settings.json").write_text(json.dumps(cfg))
    assert hook_checks()["gemini hooks"]["status"] == "fail"


def test_doctor_warns_when_the_hook_command_is_gone(agents_on_path, scratch):
    gone = scratch / "old-venv" / "bin" / "termbridge"
    assert tb("hooks", "install", "--agent", "claude", "--command", str(gone)).returncode == 0
    c = hook_checks()["claude hooks"]
    assert c["status"] == "warn" and str(gone) in c["detail"] and "no longer exists" in c["detail"]


def test_command_bare_name_stays_bare_and_a_spaced_path_is_quoted(scratch, sleeper):
    path = scratch / ".codex" / "hooks.json"
    assert tb("hooks", "install", "--agent", "codex", "--command", "termbridge").returncode == 0
    stop = lambda: json.loads(path.read_text())["hooks"]["Stop"][0]["hooks"][0]["command"]  # noqa: E731
    assert stop() == "termbridge hook stop --agent codex"  # found on the agent's PATH, not $PWD/termbridge
    spaced = scratch / "my tb"
    spaced.mkdir()
    (spaced / "termbridge").symlink_to(os.path.join(os.path.dirname(sys.executable), "termbridge"))
    assert tb("hooks", "install", "--agent", "codex", "--command", str(spaced / "termbridge")).returncode == 0
    assert stop() == f"'{spaced}/termbridge' hook stop --agent codex"
    cfg = json.loads(path.read_text())
    assert sum(len(g["hooks"]) for gs in cfg["hooks"].values() for g in gs) == 3  # the bare ones replaced
    tb("register", "codex", "--pid", sleeper().pid, "--kind", "codex")
    tb("send", "codex", "through a spaced path", "--no-wake")
    out = subprocess.run(["sh", "-c", stop()], input=b'{"stop_hook_active": false}', capture_output=True, timeout=60)
    assert out.returncode == 0 and "through a spaced path" in json.loads(out.stdout)["reason"]


def test_only_termbridges_own_hook_commands_are_replaced(scratch):
    """A user's `termbridge-notify hook x` or `termbridge send …` is theirs: install and uninstall keep it."""
    path = scratch / ".claude" / "settings.json"
    path.parent.mkdir()
    mine = [
        "termbridge-notify hook x",
        "/usr/local/bin/termbridge-helper register y",
        "termbridge send reviewer done",
        "termbridge hook my-own-thing",
        "node -m termbridge hook stop",
    ]
    path.write_text(json.dumps({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": c} for c in mine]}]}}))
    for action in ("install", "uninstall"):
        assert tb("hooks", action, "--agent", "claude").returncode == 0
        cfg = json.loads(path.read_text())
        cmds = [h["command"] for gs in cfg["hooks"].values() for g in gs for h in g["hooks"]]
        assert [c for c in cmds if c in mine] == mine
        assert len(cmds) == len(mine) + (3 if action == "install" else 0)


def test_symlinked_codex_files_are_edited_where_they_live(scratch):
    """Dotfiles: ~/.codex/config.toml and hooks.json are links into a repository; both stay links."""
    dots = scratch / "dotfiles"
    dots.mkdir()
    (dots / "config.toml").write_text(CODEX_TOML)
    (dots / "hooks.json").write_text("{}")
    (scratch / ".codex").mkdir()
    for name in ("config.toml", "hooks.json"):
        (scratch / ".codex" / name).symlink_to(dots / name)
    assert tb("hooks", "install", "--agent", "codex").returncode == 0
    for name in ("config.toml", "hooks.json"):
        assert (scratch / ".codex" / name).is_symlink()
    assert tomllib.loads((dots / "config.toml").read_text())["features"]["codex_hooks"] is True
    assert "# features comment" in (dots / "config.toml").read_text()
    assert len(ours(json.loads((dots / "hooks.json").read_text()))) == 3
    assert (dots / "config.toml.termbridge-backup").read_text() == CODEX_TOML
