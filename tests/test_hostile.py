"""Adversarial suite (issue 11): hostile text, corrupt state, bad config, unsafe state
directories, oversized kitty frames. Nothing queued is lost in any of them: counts are asserted."""

from __future__ import annotations

import json
import os
import stat

import pytest

from conftest import retry_until, tb, tb_json


# ---------------------------------------------------------------- item 7: kitty frames
def test_kitty_chunks_are_bounded_by_encoded_size():
    from termbridge.kitty_rc import MAX_FRAME, KittyClient, chunk_text, encode_request

    text = "\U0001F600" * 8000 + "é\n\"\\\x7f" * 2000 + "plain" * 5000
    pieces = chunk_text(text, 60_000)
    assert "".join(pieces) == text and len(pieces) >= 3
    for p in pieces:
        assert len(json.dumps(p, ensure_ascii=True)) - 2 <= 60_000
    # the frames send_text builds, measured as they go on the wire
    base = {"match": "id:1", "data": "text:", "match_tab": None, "all": False, "exclude_active": False,
            "bracketed_paste": "auto"}
    budget = MAX_FRAME - len(encode_request("send-text", base, no_response=True))
    for p in chunk_text(text, budget):
        assert len(encode_request("send-text", dict(base, data="text:" + p), no_response=True)) <= MAX_FRAME
    assert KittyClient  # imported for the real-kitty test below


@pytest.mark.timeout(120)
def test_8000_emoji_reach_real_kitty_once(short_tmp, home, monkeypatch):
    from kittylab import agent_kitty
    from lab import read_submissions

    k = agent_kitty(short_tmp, monkeypatch)
    try:
        win = k.windows()[0]
        retry_until(lambda: "›" in k.client.get_text(win["id"]), 15)
        assert tb("register", "k", "--pid", win["pid"]).returncode == 0
        text = "\U0001F600" * 8000  # 12 bytes each once JSON-escaped: ~96 KB, over one frame
        p = tb("submit", "k", text)
        assert p.returncode == 0, p.err
        retry_until(lambda: read_submissions(k.log), 30)
        retry_until(lambda: read_submissions(k.log)[0] == text, 30)
        assert read_submissions(k.log) == [text]
    finally:
        k.close()


# ---------------------------------------------------------------- item 4: config validated first
@pytest.mark.parametrize("yaml_text, key", [
    ("kinds:\n  codex:\n    composer: '^> (.*)$'\n", "kinds.codex.composer"),
    ("kinds:\n  codex:\n    composer: '^> (?P<draft'\n", "kinds.codex.composer"),
    ("kinds:\n  nosuch:\n    busy: ['x']\n", "kinds.nosuch"),
    ("kinds:\n  claude:\n    dialog: 'not a list'\n", "kinds.claude.dialog"),
    ("kinds:\n  claude:\n    dialog: ['(unclosed']\n", "kinds.claude.dialog"),
    ("gap_ms: 99999999999999999999999\n", "gap_ms"),
    ("gap_ms: -1\n", "gap_ms"),
    ("idle_wait_max_s: 0\n", "idle_wait_max_s"),
    ("confirm_retries: 11\n", "confirm_retries"),
    ("confirm_wait_ms: 49\n", "confirm_wait_ms"),
    ("confirm_wait_ms: true\n", "confirm_wait_ms"),
])
def test_bad_config_names_the_key_and_writes_nothing(home, sleeper, short_tmp, yaml_text, key):
    pid = sleeper().pid
    assert tb("register", "c", "--pid", pid).returncode == 0
    assert tb("send", "c", "kept", "--no-wake").returncode == 0
    (short_tmp / "config.yaml").write_text(yaml_text)
    before = sorted((p, p.stat().st_size) for p in home.rglob("*") if p.is_file() and p.name != "events.log")
    for args in (["send", "c", "more", "--no-wake"], ["drain", "c", "--print"], ["wake", "c"], ["status"]):
        p = tb(*args)
        assert p.returncode == 2, (args, p.err)
        assert f"key '{key}'" in p.err and p.err.count("\n") == 1 and "Traceback" not in p.err, p.err
    after = sorted((p, p.stat().st_size) for p in home.rglob("*") if p.is_file() and p.name != "events.log")
    assert after == before
    (short_tmp / "config.yaml").unlink()
    from termbridge import config

    config._cache.clear()
    assert [m["body"] for m in map(json.loads, tb("drain", "c", "--json").out.splitlines())] == ["kept"]


def test_good_config_keys_and_defaults(short_tmp):
    from termbridge import config

    cfg = config.validate({"idle_wait_max_s": 5, "confirm_retries": 0, "confirm_wait_ms": 10000, "gap_ms": 10000,
                           "kinds": {"codex": {"composer": r"^› (?P<draft>.*)$", "dialog": [r"Allow .*\?"]},
                                     "shell": {"composer": ""}}})
    assert cfg["confirm_wait_ms"] == 10000 and cfg["kinds"]["codex"]["dialog"] == [r"Allow .*\?"]
    assert (config.DEFAULTS["idle_wait_max_s"], config.DEFAULTS["confirm_retries"], config.DEFAULTS["confirm_wait_ms"]) == (3600, 3, 400)
