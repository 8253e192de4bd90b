"""`termbridge hooks install|uninstall`: round trips on real settings files in a scratch HOME,
and doctor's hook checks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import tb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    assert path.read_text() == original  # byte for byte: the person's layout (4-space indent) kept
    assert tb("hooks", "uninstall", "--agent", "claude").returncode == 0  # nothing left: fine
    assert path.read_text() == original
    assert (path.parent / "settings.json.termbridge-backup").read_text() == original


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


def test_codex_install_keeps_toml_comments_and_never_trusts(scratch):
    codex = scratch / ".codex"
    codex.mkdir()
    (codex / "config.toml").write_text(CODEX_TOML)
    user_hooks = {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "guard.sh"}]}]}}
    (codex / "hooks.json").write_text(json.dumps(user_hooks))
    p = tb("hooks", "install", "--agent", "codex")
    assert p.returncode == 0, p.err
    assert "Hooks need review" in p.out and "never trusts hooks for you" in p.out
    text = (codex / "config.toml").read_text()
    for line in CODEX_TOML.splitlines():
        assert line in text  # every comment and line kept
    cfg = tomllib.loads(text)
    assert cfg["features"] == {"web_search": True, "hooks": True}  # not the deprecated codex_hooks
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
    assert (codex / "hooks.json").read_text() == json.dumps(user_hooks)  # byte for byte
    p = tb("hooks", "uninstall", "--agent", "codex")
    assert "hooks = true" in (codex / "config.toml").read_text()  # left for the user's other hooks


def test_codex_install_from_nothing(scratch):
    codex = scratch / ".codex"
    p = tb("hooks", "install", "--agent", "codex")
    assert p.returncode == 0 and f"created {codex / 'hooks.json'}" in p.out
    assert tomllib.loads((codex / "config.toml").read_text()) == {"features": {"hooks": True}}
    assert len(ours(json.loads((codex / "hooks.json").read_text()))) == 3
    assert not list(codex.glob("*.termbridge-backup"))  # nothing existed to back up
    assert (codex / "hooks.json.termbridge-created").exists()
    first = files_under(codex)
    assert tb("hooks", "install", "--agent", "codex", "--command", "/opt/tb").returncode == 0  # a rewrite
    assert not list(codex.glob("*.termbridge-backup"))  # termbridge's own file is not "the original"
    p = tb("hooks", "uninstall", "--agent", "codex", "--command", "/opt/tb")
    assert p.returncode == 0 and f"removed {codex / 'hooks.json'}" in p.out
    assert sorted(files_under(codex)) == ["config.toml", "config.toml.termbridge-created"]  # no `{}` left
    assert (codex / "config.toml").read_bytes() == first["config.toml"]  # the flag stays (note printed)
    assert "is left on" in p.out


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
        ("claude", ".claude/settings.json", '{"n": NaN}'),
        ("claude", ".claude/settings.json", '{\n  // Claude Code refuses comments\n  "model": "opus"\n}'),
        ("codex", ".codex/hooks.json", '{"hooks": {},}'),  # Codex reads strict JSON: no trailing comma
        ("gemini", ".gemini/settings.json", '{"a": 1 /* never closed\n}'),
        ("gemini", ".gemini/settings.json", '{"a": 1,, }'),
        ("gemini", ".gemini/settings.json", '{"hooks": {"Stop": []}, "hooks": {}}'),  # which one would Gemini read?
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
    assert p.returncode == 0 and "+hooks = true" in p.out and "--- /dev/null" in p.out
    assert files_under(scratch) == before


def test_command_option_and_the_written_command_runs(scratch, sleeper):
    """The command written into the settings is a real one: run it as the agent would (sh -c)."""
    p = tb("hooks", "install", "--agent", "codex", "--command", "/opt/tb/bin/tb")
    assert p.returncode == 0
    cfg = json.loads((scratch / ".codex" / "hooks.json").read_text())
    assert cfg["hooks"]["Stop"][0]["hooks"][0]["command"] == "/opt/tb/bin/tb hook stop --agent codex"
    assert tb("hooks", "uninstall", "--agent", "codex", "--command", "/opt/tb/bin/tb").returncode == 0
    assert not (scratch / ".codex" / "hooks.json").exists()  # it held nothing but termbridge's hooks
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
    assert tomllib.loads((dots / "config.toml").read_text())["features"]["hooks"] is True
    assert "# features comment" in (dots / "config.toml").read_text()
    assert len(ours(json.loads((dots / "hooks.json").read_text()))) == 3
    assert (dots / "config.toml.termbridge-backup").read_text() == CODEX_TOML
    assert tb("hooks", "uninstall", "--agent", "codex").returncode == 0
    assert (dots / "hooks.json").read_text() == "{}"  # emptied, but kept: removing it would leave a dangling link
    assert (scratch / ".codex" / "hooks.json").is_symlink()


# ---------------------------------------------------------------- round trips that keep the person's file
GEMINI_COMMENTED = """// Gemini CLI settings: mine, with comments (Gemini CLI reads // and /* */)
{
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "general": {
        "preferredEditor": "vim", // my editor
        "vimMode": true
    },
    /* Model: pro for big refactors.
       (flash for the quick ones) */
    "model": {"name": "gemini-2.5-pro"},
    "hooks": {
        // log every shell command
        "BeforeTool": [
            {
                "matcher": "run_shell_command",
                "hooks": [{"name": "audit", "type": "command", "command": "~/bin/audit.sh"}]
            }
        ],
        "AfterAgent": [
            {"hooks": [{"name": "notify", "type": "command", "command": "notify-send done"}]} // ping me
        ]
    },
    "ui": {"theme": "GitHub"} /* last */
}
"""


def test_gemini_commented_settings_install_uninstall_byte_identical(scratch):
    from termbridge import jsonc

    path = scratch / ".gemini" / "settings.json"
    path.parent.mkdir()
    path.write_text(GEMINI_COMMENTED)
    p = tb("hooks", "install", "--agent", "gemini")
    assert p.returncode == 0, p.err
    text = path.read_text()
    comments = re.findall(r"//[^\n]*|/\*.*?\*/", GEMINI_COMMENTED, re.S)
    assert len(comments) == 6 and all(c in text for c in comments)
    assert text.startswith(GEMINI_COMMENTED[: GEMINI_COMMENTED.index("ping me") - 4])  # untouched up to there
    cfg = jsonc.parse(text, comments=True).value
    assert cfg["general"] == {"preferredEditor": "vim", "vimMode": True}
    assert cfg["hooks"]["BeforeTool"][0]["matcher"] == "run_shell_command"
    assert cfg["hooks"]["AfterAgent"][0]["hooks"][0]["name"] == "notify"  # the person's own, first
    assert [g["hooks"][0]["name"] for g in cfg["hooks"]["AfterAgent"]] == ["notify", "termbridge-stop"]
    assert sorted(cfg["hooks"]) == ["AfterAgent", "BeforeAgent", "BeforeTool", "SessionStart"]
    assert '    "hooks": {\n        // log every shell command\n' in text  # the layout goes on
    assert (path.parent / "settings.json.termbridge-backup").read_text() == GEMINI_COMMENTED
    installed = path.read_bytes()
    assert tb("hooks", "install", "--agent", "gemini").returncode == 0
    assert path.read_bytes() == installed  # idempotent
    checks = doctor_hook_checks(scratch, "gemini")
    assert checks["gemini hooks"]["status"] == "ok", checks
    assert tb("hooks", "uninstall", "--agent", "gemini").returncode == 0
    assert path.read_text() == GEMINI_COMMENTED  # byte for byte


def test_gemini_trailing_comma_is_kept_but_named(scratch):
    """Gemini CLI 0.61 stops at start-up on a trailing comma (measured): install keeps it, says so; doctor fails it."""
    path = scratch / ".gemini" / "settings.json"
    path.parent.mkdir()
    original = '{\n  "ui": {"hideTips": true,},\n}\n'
    path.write_text(original)
    p = tb("hooks", "install", "--agent", "gemini")
    assert p.returncode == 0, p.err
    assert "trailing comma at line 2, column 26" in p.out and "Gemini CLI stops at start-up" in p.out
    c = doctor_hook_checks(scratch, "gemini")["gemini hooks"]
    assert c["status"] == "fail" and "trailing comma at line 2" in c["detail"]
    assert tb("hooks", "uninstall", "--agent", "gemini").returncode == 0
    assert path.read_text() == original


def test_crlf_and_numbers_python_cannot_write_back_are_kept(scratch):
    """The text is edited, never re-serialised: CRLF lines, 1e400 and a lone surrogate escape stay as written."""
    path = scratch / ".claude" / "settings.json"
    path.parent.mkdir()
    original = '{\r\n    "big": 1e400,\r\n    "name": "\\ud800",\r\n    "model": "opus"\r\n}\r\n'
    path.write_bytes(original.encode())
    assert tb("hooks", "install", "--agent", "claude").returncode == 0
    data = path.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n") and b"1e400" in data and b'"\\ud800"' in data
    assert len(ours(json.loads(data))) == 3
    assert tb("hooks", "uninstall", "--agent", "claude").returncode == 0
    assert path.read_bytes() == original.encode()


def test_hooks_null_and_empty_files(scratch):
    path = scratch / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text('{"hooks": null}')
    assert tb("hooks", "install", "--agent", "claude").returncode == 0
    assert len(ours(json.loads(path.read_text()))) == 3
    path.write_text("\n")  # an empty file is an empty object
    assert tb("hooks", "install", "--agent", "claude").returncode == 0
    assert len(ours(json.loads(path.read_text()))) == 3


def test_the_first_backup_is_the_persons_original_and_stays(scratch):
    path = scratch / ".claude" / "settings.json"
    backup = path.parent / "settings.json.termbridge-backup"
    path.parent.mkdir()
    original = json.dumps(USER_CLAUDE, indent=2)
    path.write_text(original)
    p = tb("hooks", "install", "--agent", "claude")
    assert f"(your original is kept in {backup})" in p.out
    assert tb("hooks", "uninstall", "--agent", "claude").returncode == 0
    path.write_text(original.replace('"opus"', '"sonnet"'))  # the person changes it meanwhile
    assert tb("hooks", "install", "--agent", "claude", "--command", "/opt/tb/termbridge").returncode == 0
    assert tb("hooks", "install", "--agent", "claude").returncode == 0
    assert tb("hooks", "uninstall", "--agent", "claude").returncode == 0
    assert backup.read_text() == original  # never overwritten by a later version
    assert path.read_text() == original.replace('"opus"', '"sonnet"')


def test_a_file_termbridge_created_is_removed_a_persons_file_never(scratch):
    claude = scratch / ".claude"
    p = tb("hooks", "install", "--agent", "claude")
    assert p.returncode == 0 and f"created {claude / 'settings.json'}" in p.out
    assert sorted(files_under(claude)) == ["settings.json", "settings.json.termbridge-created"]
    p = tb("hooks", "uninstall", "--agent", "claude")
    assert p.returncode == 0 and f"removed {claude / 'settings.json'}" in p.out
    assert files_under(claude) == {}  # no `{}` left behind, no marker
    # The person's own file holding nothing but `{}`: install, uninstall, and it is still there as it was.
    (claude / "settings.json").write_text("{}")
    assert tb("hooks", "install", "--agent", "claude").returncode == 0
    assert tb("hooks", "uninstall", "--agent", "claude").returncode == 0
    assert (claude / "settings.json").read_text() == "{}"
    # A file termbridge created that the person then added to stays, with their keys.
    (claude / "settings.json").unlink()
    (claude / "settings.json.termbridge-backup").unlink()
    assert tb("hooks", "install", "--agent", "claude").returncode == 0
    cfg = json.loads((claude / "settings.json").read_text())
    (claude / "settings.json").write_text(json.dumps({**cfg, "model": "opus"}))
    assert tb("hooks", "uninstall", "--agent", "claude").returncode == 0
    assert json.loads((claude / "settings.json").read_text()) == {"model": "opus"}
    assert (claude / "settings.json.termbridge-backup").exists()  # the person's version was backed up first


def test_a_stale_created_marker_does_not_cost_the_person_a_backup(scratch):
    claude = scratch / ".claude"
    assert tb("hooks", "install", "--agent", "claude").returncode == 0
    (claude / "settings.json").unlink()  # the person deletes termbridge's file and makes their own
    (claude / "settings.json").write_text('{"model": "opus"}')
    assert tb("hooks", "install", "--agent", "claude").returncode == 0
    assert (claude / "settings.json.termbridge-backup").read_text() == '{"model": "opus"}'
    assert tb("hooks", "uninstall", "--agent", "claude").returncode == 0
    assert (claude / "settings.json").read_text() == '{"model": "opus"}'


# ---------------------------------------------------------------- Codex: the feature flag and its trust records
def test_codex_replaces_its_own_deprecated_flag_where_it_stands(scratch):
    codex = scratch / ".codex"
    codex.mkdir()
    old = (
        "# mine\n[features]\n# hooks for termbridge\ncodex_hooks = true  # added by termbridge 0.2\nweb_search = true\n"
    )
    (codex / "config.toml").write_text(old)
    assert tb("hooks", "install", "--agent", "codex").returncode == 0
    assert (codex / "config.toml").read_text() == old.replace("codex_hooks = true", "hooks = true")
    both = "[features]\nhooks = true\ncodex_hooks = true\n"
    (codex / "config.toml").write_text(both)
    assert tb("hooks", "install", "--agent", "codex").returncode == 0
    assert (codex / "config.toml").read_text() == "[features]\nhooks = true\n"
    off = "[features]\nhooks = false\n"
    (codex / "config.toml").write_text(off)
    p = tb("hooks", "install", "--agent", "codex")
    assert p.returncode == 0 and "hooks = false, which turns every Codex hook off" in p.out
    assert (codex / "config.toml").read_text() == off  # the person's choice stands


def _trust(hooks_json: Path, positions: list[str]) -> str:
    """Codex 0.171's own shape of its trust records (measured after "Trust all and continue")."""
    out = "\n[hooks.state]\n"
    for i, pos in enumerate(positions):
        out += f'\n[hooks.state."{hooks_json}:{pos}"]\ntrusted_hash = "sha256:{i:064x}"\n'
    return out


def test_uninstall_removes_codexs_trust_in_termbridges_hooks_only(scratch):
    codex = scratch / ".codex"
    codex.mkdir()
    user_hooks = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "true user-stop"}]}]}}
    (codex / "hooks.json").write_text(json.dumps(user_hooks))
    (codex / "config.toml").write_text(CODEX_TOML)
    assert tb("hooks", "install", "--agent", "codex").returncode == 0
    # Codex's trust screen wrote an entry for every hook: the person's Stop (0:0) and termbridge's three.
    hooks_json = codex / "hooks.json"
    ours_at = ["session_start:0:0", "user_prompt_submit:0:0", "stop:1:0"]
    installed = (codex / "config.toml").read_text()
    (codex / "config.toml").write_text(installed + _trust(hooks_json, ["stop:0:0", *ours_at]))
    p = tb("hooks", "uninstall", "--agent", "codex")
    assert p.returncode == 0 and "removed Codex's trust entries of 3 termbridge hook(s)" in p.out
    state = tomllib.loads((codex / "config.toml").read_text())["hooks"]["state"]
    assert list(state) == [f"{hooks_json}:stop:0:0"]  # the person's trust stays
    assert (codex / "hooks.json").read_text() == json.dumps(user_hooks)
    # Only termbridge's hooks were trusted: the trust tables go entirely; the rest is as installed.
    (codex / "hooks.json").unlink()
    (codex / "config.toml").write_text(CODEX_TOML)
    assert tb("hooks", "install", "--agent", "codex").returncode == 0
    installed = (codex / "config.toml").read_text()
    (codex / "config.toml").write_text(installed + _trust(os.path.realpath(hooks_json), ours_at[:2] + ["stop:0:0"]))
    assert tb("hooks", "uninstall", "--agent", "codex").returncode == 0
    assert "hooks" not in tomllib.loads((codex / "config.toml").read_text())
    assert (codex / "config.toml").read_text().rstrip("\n") == installed.rstrip("\n")
    assert not hooks_json.exists()


def test_reinstall_with_a_new_command_drops_the_stale_trust_keeps_the_rest(scratch):
    codex = scratch / ".codex"
    assert tb("hooks", "install", "--agent", "codex").returncode == 0
    hooks_json = codex / "hooks.json"
    ours_at = ["session_start:0:0", "user_prompt_submit:0:0", "stop:0:0"]
    other = f'\n[hooks.state."{codex}/other.json:stop:0:0"]\ntrusted_hash = "sha256:11"\n'
    installed = (codex / "config.toml").read_text()
    (codex / "config.toml").write_text(installed + _trust(hooks_json, ours_at) + other)
    before = (codex / "config.toml").read_text()
    assert tb("hooks", "install", "--agent", "codex").returncode == 0  # unchanged hooks: trust kept
    assert (codex / "config.toml").read_text() == before
    assert tb("hooks", "install", "--agent", "codex", "--command", "/opt/tb").returncode == 0  # changed: re-trust
    assert list(tomllib.loads((codex / "config.toml").read_text())["hooks"]["state"]) == [
        f"{codex}/other.json:stop:0:0"
    ]


def doctor_hook_checks(scratch, *agents):
    b = scratch / "bin"
    b.mkdir(exist_ok=True)
    for a in agents:
        (b / a).write_text("#!/bin/sh\necho 0.0.1\n")
        (b / a).chmod(0o755)
    data = json.loads(tb("doctor", "--json", env={**os.environ, "PATH": f"{b}:{os.environ['PATH']}"}).out)
    return {c["name"]: c for c in data["checks"] if c["name"].endswith(" hooks")}


def test_doctor_accepts_either_codex_flag_and_names_the_deprecated_one(scratch):
    assert tb("hooks", "install", "--agent", "codex").returncode == 0
    config = scratch / ".codex" / "config.toml"
    hooks_json = os.path.realpath(scratch / ".codex" / "hooks.json")
    trusted = _trust(Path(hooks_json), ["session_start:0:0", "user_prompt_submit:0:0", "stop:0:0"])
    config.write_text("[features]\nhooks = true\n" + trusted)
    assert doctor_hook_checks(scratch, "codex")["codex hooks"]["status"] == "ok"
    config.write_text("[features]\ncodex_hooks = true\n" + trusted)
    c = doctor_hook_checks(scratch, "codex")["codex hooks"]
    assert c["status"] == "warn" and "deprecated [features] codex_hooks" in c["detail"]
    config.write_text("[features]\nhooks = false\n" + trusted)
    assert doctor_hook_checks(scratch, "codex")["codex hooks"]["status"] == "fail"
    config.write_text(trusted)
    c = doctor_hook_checks(scratch, "codex")["codex hooks"]
    assert c["status"] == "warn" and "[features] hooks is not set" in c["detail"]


# ---------------------------------------------------------------- any settings file: install, uninstall, same bytes
def _user_hooks():
    handler = st.fixed_dictionaries(
        {
            "type": st.just("command"),
            "command": st.sampled_from(["notify-send done", "audit.sh", "termbridge send x y"]),
        }
    )
    group = st.fixed_dictionaries(
        {"hooks": st.lists(handler, min_size=1, max_size=2)}, optional={"matcher": st.text(max_size=3)}
    )
    return st.dictionaries(
        st.sampled_from(["Stop", "AfterAgent", "SessionStart", "BeforeTool"]), st.lists(group, max_size=2), max_size=3
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    others=st.dictionaries(
        st.sampled_from(["model", "ui", "general", "x"]), st.integers() | st.text(max_size=4), max_size=3
    ),
    hooks=st.none() | _user_hooks(),
    data=st.data(),
)
def test_any_gemini_settings_round_trip(others, hooks, data):
    """Random settings laid out with random comments: install adds exactly termbridge's hooks and keeps
    everything else; uninstall gives back the same bytes."""
    import tempfile

    from jsonc_layout import layout

    from termbridge import hooks_install as hi
    from termbridge import jsonc

    value = dict(others)
    if hooks is not None:
        value["hooks"] = hooks
    text = layout(value, data) + "\n"
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        path = Path(d) / ".gemini" / "settings.json"
        path.parent.mkdir()
        path.write_bytes(text.encode())
        p = hi.plan("gemini", "install", project=True, command="/opt/tb", cwd=Path(d))
        hi.apply(p)
        installed = jsonc.parse(path.read_text(), True, True).value
        assert {k: v for k, v in installed.items() if k != "hooks"} == others
        assert len(hi.installed_handlers("gemini", installed, "/opt/tb")) == 3
        hi.apply(hi.plan("gemini", "uninstall", project=True, command="/opt/tb", cwd=Path(d)))
        back = path.read_bytes().decode()

    # An object or list that only termbridge's hooks filled goes with them: an empty `"hooks": {}` or
    # `"AfterAgent": []` is not put back (the same settings to Gemini), and `{ }` comes back as `{}`.
    def without_empties(v: dict) -> dict:
        events = {
            k: g
            for k, g in (v.get("hooks") or {}).items()
            if g or k not in ("SessionStart", "BeforeAgent", "AfterAgent")
        }
        return {**{k: x for k, x in v.items() if k != "hooks"}, **({"hooks": events} if events else {})}

    if value == {} or without_empties(value) != value:
        assert without_empties(jsonc.parse(back, True, True).value) == without_empties(value)
    else:
        assert back == text
