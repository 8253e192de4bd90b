"""The kitty backend against a real kitty 0.26+ under Xvfb, through our own protocol client."""

from __future__ import annotations

import time

import pytest
from helpers import retry_until, tb, tb_json
from lab import PY, read_submissions

from termbridge.errors import KittyError
from termbridge.kitty_rc import KittyClient, decode_reply, encode_request

pytestmark = pytest.mark.timeout(120)


def test_resolve_and_submit_into_real_kitty(kitty):
    win = kitty.windows()[0]
    retry_until(lambda: "›" in kitty.client.get_text(win["id"]), 15)
    decoy_log = kitty.dir / "decoy.log"
    decoy_id = kitty.launch([PY, "-m", "termbridge.demo_agent", "--log", str(decoy_log), "--title", "decoy"])
    retry_until(lambda: "›" in kitty.client.get_text(decoy_id), 15)
    assert tb("register", "k", "--pid", win["pid"], "--kind", "codex").returncode == 0
    res = tb_json("resolve", "k")
    assert (
        res["backend"] == "kitty"
        and res["target"] == f"kitty:{kitty.address}:{win['id']}"
        and res["chain"] == [win["pid"]]
    )
    assert tb("submit", "k", "hello kitty").returncode == 0
    retry_until(lambda: read_submissions(kitty.log) == ["hello kitty"])
    assert tb("submit", "k", "two\nlines \x1b[31mclean").returncode == 0
    retry_until(lambda: len(read_submissions(kitty.log)) == 2)
    assert read_submissions(kitty.log)[1] == "two\nlines [31mclean"
    time.sleep(0.3)
    assert read_submissions(decoy_log) == []  # nothing typed into the other window


def test_large_text_is_chunked(kitty):
    win = kitty.windows()[0]
    retry_until(lambda: "›" in kitty.client.get_text(win["id"]), 15)
    tb("register", "k", "--pid", win["pid"])
    big = ("0123456789abcdef" * 4000)[:60_000]  # JSON-escaped, over one frame: sent as 8 frames
    assert tb("submit", "k", big).returncode == 0
    retry_until(lambda: read_submissions(kitty.log) == [big], 20)


def test_pid_not_in_kitty_is_exit_3(kitty, sleeper):
    tb("register", "x", "--pid", sleeper().pid)
    p = tb("submit", "x", "nowhere")
    assert p.returncode == 3
    time.sleep(0.3)
    assert read_submissions(kitty.log) == []


def test_protocol_errors_are_clear(short_tmp):
    with pytest.raises(KittyError, match="does not exist"):
        KittyClient(f"unix:{short_tmp}/missing.sock").ls()
    with pytest.raises(KittyError, match="unsupported kitty address"):
        KittyClient("http://x")
    frame = encode_request("ls", {}, False)
    assert frame.startswith(b"\x1bP@kitty-cmd{") and frame.endswith(b"\x1b\\") and b"\x1b" not in frame[2:-2]
    assert decode_reply(b'\x1bP@kitty-cmd{"ok": false, "error": "x"}\x1b\\') == {"ok": False, "error": "x"}


@pytest.mark.parametrize("reply", ["reset", "garbage"])
def test_a_broken_reply_is_a_kitty_error(short_tmp, reply):
    """A kitty that resets the connection mid-request, or answers a frame that is no JSON: one
    KittyError (a watcher serving many windows catches that), never an OSError or ValueError."""
    import socket
    import struct
    import threading

    path = f"{short_tmp}/fake-kitty.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        conn.recv(65536)
        if reply == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not FIN
        else:
            conn.sendall(b"\x1bP@kitty-cmd{not json\x1b\\")
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    try:
        with pytest.raises(KittyError):
            KittyClient(f"unix:{path}").get_text(1)
    finally:
        t.join(5)
        srv.close()
    for bad in ("tcp:localhost", "fd:x", "/tmp/kitty.sock"):  # a port or fd that is no number, no scheme
        with pytest.raises(KittyError, match="unsupported kitty address"):
            KittyClient(bad)


def test_unknown_command_reply_from_real_kitty(kitty):
    with pytest.raises(KittyError, match="Unknown kitty remote control command"):
        kitty.client.command("no-such-command", {})


def test_listen_on_pid_suffix_is_found(kitty, short_tmp):
    """kitty appends -<pid> to a listen_on from kitty.conf; an address without it still works."""
    import os

    path = kitty.address[len("unix:") :]
    suffixed = f"{path}-{kitty.proc.pid}"
    os.rename(path, suffixed)  # where kitty puts the socket for `listen_on unix:<path>` in kitty.conf
    client = KittyClient(f"unix:{path}")
    assert client.ls() and client.address == f"unix:{suffixed}"
