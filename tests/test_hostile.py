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
