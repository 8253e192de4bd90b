"""State permissions, symlink and foreign-owner refusal, config validation."""

from __future__ import annotations

import os
import stat

import pytest
from helpers import tb

from termbridge import config, paths
from termbridge.errors import ConfigError, StateError


def _mode(p):
    return stat.S_IMODE(os.lstat(p).st_mode)


def test_modes_0700_0600(home, sleeper):
    tb("register", "c", "--pid", sleeper().pid)
    tb("send", "c", "hi", "--no-wake")
    tb("drain", "c", "--print")
    for root, dirs, files in os.walk(home):
        for d in dirs:
            assert _mode(os.path.join(root, d)) == 0o700, d
        for f in files:
            assert _mode(os.path.join(root, f)) == 0o600, f
    assert _mode(home) == 0o700


def test_symlinked_pending_refused(home, sleeper, short_tmp):
    tb("register", "c", "--pid", sleeper().pid)
    victim = short_tmp / "victim"
    victim.write_text("precious\n")
    link = home / "sessions" / "c" / "pending.log"
    os.symlink(victim, link)
    p = tb("send", "c", "hi", "--no-wake")
    assert p.returncode == 1 and "symlink" in p.err and p.err.count("\n") == 1
    assert victim.read_text() == "precious\n"


def test_symlinked_session_record_refused(home, sleeper, short_tmp):
    tb("register", "c", "--pid", sleeper().pid)
    rec = home / "sessions" / "c" / "session.json"
    os.rename(rec, short_tmp / "elsewhere.json")
    os.symlink(short_tmp / "elsewhere.json", rec)
    p = tb("send", "c", "hi", "--no-wake")
    assert p.returncode == 1 and "symlink" in p.err


@pytest.mark.skipif(os.geteuid() != 0, reason="making a file owned by another user needs root")
def test_foreign_owner_refused(home, sleeper):
    tb("register", "c", "--pid", sleeper().pid)
    os.chown(home / "sessions" / "c" / "session.json", 65534, 65534)
    p = tb("send", "c", "hi", "--no-wake")
    assert p.returncode == 1 and "owned by uid 65534" in p.err


def test_loose_dir_is_tightened(short_tmp):
    d = short_tmp / "loose"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    paths.ensure_dir(d)
    assert _mode(d) == 0o700


def test_state_home_defaults():
    assert str(paths.state_home({"TERMBRIDGE_HOME": "/x/y"})) == "/x/y"
    assert str(paths.state_home({"XDG_STATE_HOME": "/s", "HOME": "/h"})) == "/s/termbridge"
    assert str(paths.state_home({"HOME": "/h"})) == "/h/.local/state/termbridge"


def test_atomic_write_refuses_symlink(short_tmp):
    target = short_tmp / "t"
    target.write_text("keep")
    os.symlink(target, short_tmp / "l")
    with pytest.raises(StateError):
        paths.atomic_write(short_tmp / "l", b"x")
    assert target.read_text() == "keep"


@pytest.mark.parametrize(
    "text,key",
    [
        ("gap_ms: -5\n", "gap_ms"),
        ("gap_ms: fast\n", "gap_ms"),
        ("debounce_ms: true\n", "debounce_ms"),
        ("nosuchkey: 1\n", "nosuchkey"),
        ("default_ttl: 0\n", "default_ttl"),
        ('nudge_text: "two\\nlines"\n', "nudge_text"),
        ("nudge_text: 'hi {other}'\n", "nudge_text"),
        ("kinds: {other: {busy: ['(unclosed']}}\n", "kinds.other.busy"),
        ("kinds: {other: {colour: red}}\n", "kinds.other.colour"),
        ("- a list\n", "top level"),
        ("gap_ms: [1, 2\n", "invalid YAML"),
    ],
)
def test_bad_config_exit_2_names_key(home, sleeper, short_tmp, text, key):
    (short_tmp / "config.yaml").write_text(text)
    p = tb("sessions")
    assert p.returncode == 2, p.err
    assert key in p.err and p.err.count("\n") == 1


def test_config_overrides(short_tmp):
    f = short_tmp / "c.yaml"
    f.write_text("max_body_bytes: 10\ngap_ms: 50\nkinds:\n  other:\n    busy: ['working']\n")
    config._cache.clear()
    cfg = config.load_config({"TERMBRIDGE_CONFIG": str(f)})
    assert cfg["max_body_bytes"] == 10 and cfg["gap_ms"] == 50 and cfg["debounce_ms"] == 1000
    with pytest.raises(ConfigError):
        config.validate({"ledger_size": 5})


def test_small_body_limit_from_config(home, sleeper, short_tmp):
    (short_tmp / "config.yaml").write_text("max_body_bytes: 8\n")
    tb("register", "c", "--pid", sleeper().pid)
    assert tb("send", "c", "123456789", "--no-wake").returncode == 2
    assert tb("send", "c", "12345678", "--no-wake").returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="making a directory owned by another user needs root")
def test_one_unsafe_session_directory_does_not_fail_the_listing(home, sleeper, short_tmp):
    """A symlinked or foreign-owned sessions/NAME is skipped (never read through), not fatal for everyone."""
    import json
    import shutil

    pid = sleeper().pid
    for name in ("a", "linked", "foreign", "z"):
        assert tb("register", name, "--pid", pid).returncode == 0
    elsewhere = short_tmp / "elsewhere"
    shutil.move(home / "sessions" / "linked", elsewhere)
    os.symlink(elsewhere, home / "sessions" / "linked")
    for root, dirs, files in os.walk(home / "sessions" / "foreign"):
        for n in dirs + files + ["."]:
            os.chown(os.path.join(root, n), 65534, 65534)
    p = tb("sessions", "--json")
    assert p.returncode == 0, p.err
    assert [s["name"] for s in json.loads(p.out)["sessions"]] == ["a", "z"]
    p = tb("status", "--json")
    assert p.returncode == 0, p.err
    rows = {r["name"]: r for r in json.loads(p.out)["sessions"]}
    assert sorted(rows) == ["a", "foreign", "linked", "z"]
    assert rows["a"]["pending"] == 0 and "error" not in rows["a"]
    assert "symlink" in rows["linked"]["error"] and rows["linked"]["liveness"] == "refused"
    assert "owned by uid 65534" in rows["foreign"]["error"]
    p = tb("status")
    assert p.returncode == 0 and "linked: refused: " in p.out and p.out.count("\n") == 4
    assert tb("send", "a", "still works", "--no-wake").returncode == 0


def test_a_fifo_as_config_is_one_line_exit_2_not_a_hang(home, short_tmp, monkeypatch):
    fifo = short_tmp / "config.fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv("TERMBRIDGE_CONFIG", str(fifo))
    p = tb("sessions", timeout=30)
    assert p.returncode == 2 and "not a regular file" in p.err and str(fifo) in p.err
    assert p.err.count("\n") == 1


def test_a_fifo_as_transcript_path_is_skipped_not_a_hang(home, sleeper, short_tmp):
    import json

    tb("register", "c", "--pid", sleeper().pid, "--kind", "claude")
    fifo = short_tmp / "transcript.fifo"
    os.mkfifo(fifo)
    (home / "sessions" / "c" / "transcript.json").write_text(json.dumps({"path": str(fifo)}))
    mid = tb("send", "c", "hi", "--no-wake").out.strip()
    assert tb("drain", "c", "--print").returncode == 0
    p = tb("receipt", mid, "--json", timeout=30)
    assert p.returncode == 0 and json.loads(p.out)["state"] == "submitted"


@pytest.mark.parametrize("value", ["1e999", "-1e999", "-3"])
def test_a_damaged_stop_budget_still_hands_over(home, sleeper, value):
    """stop_hook.json {"consecutive_blocks": 1e999} (inf) is a damaged budget, not an OverflowError
    that made the Stop hook do nothing at all."""
    import json

    tb("register", "c", "--pid", sleeper().pid, "--kind", "claude")
    (home / "sessions" / "c" / "stop_hook.json").write_text('{"consecutive_blocks": ' + value + "}")
    mid = tb("send", "c", "hi", "--no-wake").out.strip()
    blocked = 0
    for _ in range(5):
        p = tb("hook", "stop", "--agent", "claude", "--session", "c", input='{"stop_hook_active": true}')
        assert p.returncode == 0
        if p.out:
            assert mid in json.loads(p.out)["reason"] or blocked
            blocked += 1
            tb("send", "c", "more", "--no-wake")
    assert blocked == 3  # the default block_budget, counted from a repaired 0
    assert "hook_error" not in tb("events").out


def test_a_symlink_above_the_state_root_is_the_persons_own(home, sleeper, short_tmp):
    """HOME/.local is a link into dotfiles: first use creates ~/.local/state/termbridge through it.
    Only the levels at and under the state root are checked."""
    user = short_tmp / "user"
    dots = short_tmp / "dotfiles" / "local"
    user.mkdir()
    dots.mkdir(parents=True)
    (user / ".local").symlink_to(dots)
    env = {k: v for k, v in os.environ.items() if k not in ("TERMBRIDGE_HOME", "XDG_STATE_HOME")}
    env["HOME"] = str(user)
    p = tb("register", "c", "--pid", sleeper().pid, env=env)
    assert p.returncode == 0, p.err
    assert (dots / "state" / "termbridge" / "sessions" / "c" / "session.json").is_file()
    assert _mode(dots / "state" / "termbridge") == 0o700
    # Under the root a symlinked level is still refused.
    (dots / "state" / "termbridge" / "sessions" / "c").rename(short_tmp / "moved")
    (dots / "state" / "termbridge" / "sessions" / "c").symlink_to(short_tmp / "moved")
    p = tb("send", "c", "hi", "--no-wake", env=env)
    assert p.returncode == 1 and "symlink" in p.err
