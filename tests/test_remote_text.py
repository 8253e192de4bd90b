"""What another host reports is peer text here too: a receipt's answer, reason or via from HOST
reaches this terminal sanitized, whatever HOST's termbridge did (an older or modified one)."""

from __future__ import annotations

import json

from helpers import tb


def test_a_remote_receipts_text_reaches_this_terminal_sanitized(home, short_tmp):
    from termbridge import forward

    # HOST is down (a refused port): `receipt` shows what HOST last said, kept here.
    cfg = {"hosts": {"far": {"ssh": ["-o", "HostName=127.0.0.1", "-o", "Port=9"], "connect_timeout_s": 2}}}
    (short_tmp / "config.yaml").write_text(json.dumps(cfg))
    q = forward.ForwardQueue(home, "far")
    rec = q.append("b", "tok-remote-text?", "lead", None, None, None, ask=True)
    q.confirm([rec], [])
    q.note_receipt(
        {
            "id": rec["id"],
            "session": "b",
            "state": "answered",
            "at": {"answered": 1.0},
            "via": "hook:codex\x1b[31m",
            "answer": "yes\x1b]0;pwned\x07 tok-remote-text\x1b[2J\u202e",
        }
    )
    plain = tb("receipt", rec["id"])
    as_json = tb("receipt", rec["id"], "--json")
    assert plain.returncode == 0 and as_json.returncode == 0, plain.err + as_json.err
    assert "tok-remote-text" in plain.out and "\x1b" not in plain.out and "\u202e" not in plain.out
    got = json.loads(as_json.out)
    assert got["answer"] == "yes]0;pwned tok-remote-text[2J" and "\x1b" not in got["via"], got
