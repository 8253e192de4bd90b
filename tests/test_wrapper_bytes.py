"""Whatever bytes a program writes, `termbridge run` passes them on unchanged and the program runs on.

The emulator (termbridge.vt) is checked on its own first: it ignores what a VT ignores (private
SGR, DCS/APC/OSC contents, malformed CSI), reads colon-form SGR, and never fails. Then the real
wrapper, on a real PTY, with a real child writing random and malformed escape sequences; and a
wrapper whose emulator is made to fail (vt_fault.py), which must log it once, keep the child
running, read the screen as `unknown` until the child has redrawn it, and ask it to redraw.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import struct
import tempfile
import termios
from pathlib import Path

import pytest
from helpers import retry_until, tb_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lab import HERE, PY
from test_wrapper import Term

from termbridge.vt import Emulator

pytestmark = pytest.mark.timeout(240)
CHILD = str(HERE / "screen_child.py")

# What the real agents write at start-up (measured, docs/agents.md): queries and key-protocol
# switches with private markers, OSC queries, a synchronized-output query.
AGENT_STARTUP = [
    b"\x1b[>4;?m",  # Gemini CLI 0.61: pyte raised TypeError on it and took the wrapper down
    b"\x1b[>4;2m",  # Claude Code: modifyOtherKeys, which pyte read as SGR 4;2 (underline, faint)
    b"\x1b[>4;0m",  # Codex
    b"\x1b[?u",
    b"\x1b[<u",
    b"\x1b[>5u",
    b"\x1b[>q",
    b"\x1b[>0q",
    b"\x1b]11;?\x1b\\",
    b"\x1b]7501;?\x07",
    b"\x1b[?2026$p",
    b"\x1b[?1007$p",
    b"\x1b]8;id=x;https://example.com\x07link\x1b]8;;\x07",
]


def screen(*chunks: bytes, columns: int = 40, lines: int = 5) -> tuple[Emulator, list[str]]:
    e = Emulator(columns, lines)
    for c in chunks:
        assert e.feed(c) is None
    return e, e.snapshot()["text"].split("\n")


# ---------------------------------------------------------------- the emulator on its own
@pytest.mark.parametrize("seq", AGENT_STARTUP[:-1])
def test_the_agents_start_up_sequences_change_nothing_on_screen(seq):
    e, text = screen(b"\x1b[2mdim\x1b[0m " + seq + b"plain")
    assert text[0] == "dim plain"
    cells = e.screen.buffer[0]
    assert cells[0].faint and not cells[4].faint and not cells[4].underscore


@pytest.mark.parametrize(
    "seq",
    [b"\x1b[?4m", b"\x1b[?1;2m", b"\x1b[>4;2m", b"\x1b[<1m", b"\x1b[=2m", b"\x1b[?2;?m", b"\x1b[4;?m"],
)
def test_sgr_with_a_private_marker_is_no_sgr(seq):
    e, text = screen(seq + b"x")
    c = e.screen.buffer[0][0]
    assert text[0] == "x" and not (c.faint or c.underscore or c.bold)


def test_colon_form_sgr_is_read_and_underline_colour_ignored():
    e, text = screen(
        b"\x1b[38:2::255:0:0ma\x1b[38:2:0:255:0mb\x1b[38:5:4mc\x1b[0;58:2::1:2:3;4:3md\x1b[4:0;58;2;31;0;0me"
    )
    row = e.screen.buffer[0]
    assert text[0] == "abcde"
    assert [row[x].fg for x in range(3)] == ["ff0000", "00ff00", "0000ee"]  # pyte keeps 256-colour 4 as its RGB
    assert row[3].underscore and row[3].fg == "default"  # 58's 31 is no red foreground
    assert not row[4].underscore and row[4].fg == "default"


def test_the_styled_screen_keeps_every_attribute_as_capture_pane_does():
    """Claude Code 2.1.332 draws its cursor on a placeholder as a reverse-video first letter; Gemini
    CLI its composer on a background bar: the surface reader must see both, as in a tmux pane."""
    e, _ = screen(
        "❯\xa0\x1b[7mR\x1b[27m\x1b[2mesend\x1b[0m\r\n"
        "\x1b[48;2;95;95;95m\x1b[38;2;215;175;255m> \x1b[7m\x1b[39m \x1b[27m\x1b[1;3;4;5;9;91mx\x1b[0m".encode()
    )
    assert e.snapshot()["styled"].split("\n")[:2] == [
        "❯\xa0\x1b[0;7mR\x1b[0;2mesend\x1b[0m",
        "\x1b[0;38;2;215;175;255;48;2;95;95;95m> \x1b[0;48;2;95;95;95;7m \x1b[0;91;48;2;95;95;95;1;3;4;5;9mx\x1b[0m",
    ]


@pytest.mark.parametrize(
    "seq",
    [
        b"\x1bP1$qm\x1b\\",  # DCS (DECRQSS)
        b"\x1b_Ga=T,f=100;AAAA\x1b\\",  # APC (kitty graphics)
        b"\x1b^private\x1b\\",
        b"\x1bXsos\x1b\\",
        b"\x1b]0;a title\x07",
        b"\x1b]52;c;Zm9v\x1b\\",
        b"\x1bPtmux;\x1b\x1b[1mx\x1b\\",  # tmux passthrough: its inner ESC ends the string early
    ],
)
def test_string_contents_are_never_drawn(seq):
    _, text = screen(b"<" + seq + b">")
    assert text[0].startswith("<") and text[0].endswith(">") and len(text[0]) <= 4


def test_an_unterminated_string_swallows_output_until_its_terminator_across_chunks():
    _, text = screen(b"a\x1b]0;never ends", b" still the title", b"\x07b")
    assert text[0] == "ab"


def test_zero_width_characters_do_not_cut_the_line():
    _, text = screen("⚠\ufe0f careful: a\u200db e\u0301 中文 end".encode())
    assert text[0] == "⚠\ufe0f careful: a\u200db \u00e9 中文 end"  # pyte stopped drawing at the U+FE0F


@pytest.mark.parametrize(
    "seq",
    [
        b"\x1b[4J",  # pyte: UnboundLocalError
        b"\x1b[3K",
        b"\x1b[1;2P",  # pyte: TypeError, one parameter too many
        b"\x1b[;E",
        b"\x1b[" + b"9" * 6000 + b"C",  # int() of 6000 digits raises
        b"\x1b[" + b"1;" * 3000 + b"m",
        b"\x1b[?3h",  # DECCOLM: pyte would resize the screen to 132 columns
    ],
)
def test_sequences_pyte_fails_on_are_ignored(seq):
    e, text = screen(b"ab" + seq + b"cd")
    assert "cd" in "\n".join(text) and e.screen.columns == 40


_PIECE = st.one_of(
    st.sampled_from(AGENT_STARTUP),
    st.sampled_from([b"\x1b", b"[", b"]", b"P", b"_", b"?", b">", b"<", b"=", b";", b":", b"$", b" ", b"\\"]),
    st.sampled_from([b"\x07", b"\x18", b"\x1a", b"\r", b"\n", b"\x08", b"\x00", b"\x7f", b"\x9b", b"\xc2\x9b"]),
    st.sampled_from([b"m", b"H", b"J", b"K", b"h", b"l", b"r", b"@", b"P", b"X", b"c", b"n", b"u", b"q"]),
    st.integers(0, 100000).map(lambda n: str(n).encode()),
    st.text(max_size=6).map(str.encode),
    st.binary(max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.lists(_PIECE, max_size=40).map(b"".join), max_size=6), cols=st.integers(1, 90))
def test_the_emulator_never_fails(chunks, cols):
    e = Emulator(cols, 6)
    for c in chunks:
        assert e.feed(c) is None
    snap = e.snapshot()
    assert len(snap["text"].split("\n")) == 6 and snap["cursor"] is not None


@settings(max_examples=200, deadline=None)
@given(data=st.lists(_PIECE, max_size=60).map(b"".join), cuts=st.lists(st.integers(0, 400), max_size=5))
def test_chunking_does_not_change_the_screen(data, cuts):
    whole = Emulator(30, 5)
    whole.feed(data)
    parts = Emulator(30, 5)
    last = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        parts.feed(data[last:cut])
        last = max(last, cut)
    assert parts.snapshot() == whole.snapshot()


def test_after_a_failure_the_screen_is_unknown_until_every_cell_is_redrawn():
    e = Emulator(20, 3)
    e.feed(b"\x1b[H\x1b[2J> draft text")
    e._start_over(20, 3)  # what feed does on a failure
    assert e.snapshot() == {"text": "", "styled": "", "cursor": None, "rebuilding": True}
    e.feed(b"\x1b[3;1H\x1b[2K> ")  # a partial redraw: an empty-looking composer, the rest unknown
    assert e.snapshot()["rebuilding"]
    e.feed(b"\x1b[H\x1b[2J> ")
    snap = e.snapshot()
    assert snap["text"] == ">\n\n" and snap["cursor"] == [2, 0] and "rebuilding" not in snap
    e._start_over(20, 3)
    e.feed(b"\x1b[H" + b"\x1b[2K\r\n" * 2 + b"\x1b[2Kx")  # every row erased one by one (Claude's repaint)
    assert e.snapshot()["text"] == "\n\nx"


# ---------------------------------------------------------------- the real wrapper on a real PTY
def wrapper_info(home: Path, name: str) -> dict:
    """The wrapper's own `info` reply (as the surface reader gets it)."""
    from termbridge.backends import Target
    from termbridge.backends.pty import request

    reg = json.loads((home / "pty" / f"{name}.json").read_text())
    via = {"socket": reg["socket"], "wrapper_pid": reg["wrapper_pid"]}
    return request(Target("pty", f"pty:{name}", reg["child_pid"], via), {"op": "info"})


def emulator_errors(home: Path) -> list[dict]:
    from termbridge.events import read_events

    return [e for e in read_events(home) if e["event"] == "emulator_error"]


def _csi(marker: bytes, fields: list[bytes], inter: bytes, final: int) -> bytes:
    return b"\x1b[" + marker + b";".join(fields) + inter + bytes([final])


_FIELD = st.one_of(
    st.integers(0, 99999).map(lambda n: str(n).encode()),
    st.sampled_from([b"", b"?", b"2:42:42:42", b"38:2::1:2:3", b"4:3", b"58:5:9", b"::", b"1:"]),
)
_MALFORMED = st.one_of(
    st.builds(  # CSI with and without private markers, intermediates, any final
        _csi,
        st.sampled_from([b"", b"?", b">", b"<", b"="]),
        st.lists(_FIELD, max_size=8),
        st.sampled_from([b"", b" ", b"$", b"!", b'"', b"'"]),
        st.integers(0x40, 0x7E),
    ),
    st.builds(  # OSC / DCS / APC / PM / SOS, terminated or not
        lambda intro, body, end: b"\x1b" + intro + body + end,
        st.sampled_from([b"]", b"P", b"_", b"^", b"X"]),
        st.binary(max_size=40),
        st.sampled_from([b"", b"\x07", b"\x1b\\", b"\x1b", b"\x18"]),
    ),
    st.integers(1, 6000).map(lambda n: b"\x1b[" + b"9" * n + b"C"),  # huge parameters
    st.integers(1, 3000).map(lambda n: b"\x1b[" + b"1;" * n + b"m"),  # many parameters
    st.builds(
        lambda h, cs, r, g, b: f"\x1b[{h}:2:{cs}:{r}:{g}:{b}m".encode(),
        st.sampled_from([38, 48, 58]),
        st.sampled_from(["", "0", "1"]),
        *[st.integers(0, 300)] * 3,
    ),
    st.just(b"\x1b"),  # a stray ESC
    st.binary(min_size=1, max_size=1).map(lambda b: b"\x1b" + b),
    st.lists(st.integers(0x80, 0xFF), min_size=1, max_size=8).map(bytes),  # invalid UTF-8
    st.sampled_from([b"\xe2\x80", b"\xf0\x9f\x98", b"\xc3", b"\xed\xa0\x80"]),  # truncated, surrogate
    st.sampled_from(AGENT_STARTUP),
    st.text(max_size=12).map(str.encode),
    st.binary(max_size=24),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(payload=st.lists(_MALFORMED, max_size=25).map(b"".join), status=st.integers(0, 9))
def test_any_bytes_reach_the_terminal_unchanged_and_the_child_runs_on(payload, status):
    with tempfile.TemporaryDirectory(prefix="tb", dir="/tmp") as tmp:
        d = Path(tmp)
        home = d / "home"
        env = {**os.environ, "TERMBRIDGE_HOME": str(home), "TERMBRIDGE_CONFIG": str(d / "config.yaml")}
        (d / "payload").write_bytes(payload)
        wrote = d / "wrote"
        t = Term(["--name", "fuzz", "--", PY, CHILD, str(wrote), str(status), str(d / "payload")], env=env)
        try:
            expected = payload + b"\r\nREADY\r\n"
            retry_until(lambda: t.pump() or len(t.out) >= len(expected) or t.proc.poll() is not None, 20, 0)
            assert t.proc.poll() is None, t.out  # the wrapper runs on
            assert isinstance(wrapper_info(home, "fuzz")["text"], str)  # the wrapper still answers
            assert t.proc.poll() is None  # and the child still runs:
            t.type(b"x")  # it obeys, and exits with its own status
            assert t.read_to_exit(10) == status
            assert wrote.read_bytes() == expected
            assert t.out == expected  # every byte, unchanged, nothing added
            assert len(emulator_errors(home)) <= 1
        finally:
            t.close()


def test_the_gemini_start_up_that_took_the_wrapper_down(term, home, short_tmp):
    """Gemini CLI 0.61 writes `CSI > 4 ; ? m` first; the wrapper died with it (issue 21)."""
    payload = short_tmp / "payload"
    payload.write_bytes(b"\x1b[8m\x1b[?u\x1b]11;?\x1b\\\x1b[>q\x1b[>4;?m\x1b[c\x1b[2K\r\x1b[0m > Type your message")
    t = term(["--name", "gem", "--kind", "gemini", "--", PY, CHILD, str(short_tmp / "wrote"), "0", str(payload)])
    t.read(b"READY")
    assert "> Type your message" in wrapper_info(home, "gem")["text"]
    t.type(b"x")
    assert t.read_to_exit() == 0
    assert emulator_errors(home) == []


@pytest.fixture
def term(home):
    terms = []

    def make(argv, **kw):
        t = Term(argv, **kw)
        terms.append(t)
        return t

    yield make
    for t in terms:
        t.close()


def test_an_emulator_failure_is_logged_once_and_the_screen_rebuilt(term, home, short_tmp):
    wrote = short_tmp / "wrote"
    t = term(
        ["--name", "flaky", "--", PY, CHILD, str(wrote), "3"],
        runner=[PY, str(HERE / "vt_fault.py")],
        rows=30,
        cols=100,
    )
    t.read(b"READY")
    t.type(b"r")
    t.read(b"child $ ")
    retry_until(lambda: tb_json("status")["sessions"][0]["surface"] == "idle", 10)
    t.type(b"f")  # the emulator fails on this line
    t.read(b"SIZE 30x100")  # asked to redraw: one row shorter, then its real size again
    assert b"SIZE 29x100" in t.out
    (err,) = emulator_errors(home)
    assert err["session"] == "flaky" and "injected emulator fault" in err["error"]
    assert wrapper_info(home, "flaky")["rebuilding"]  # the SIZE lines redrew only two rows
    t.type(b"p")  # an idle-looking prompt line, the rest of the screen not redrawn
    t.read(b"\r\x1b[2Kchild $ ")
    retry_until(lambda: wrapper_info(home, "flaky")["quiet_ms"] > 700, 10)  # past pty_quiet_ms: idle, if known
    row = tb_json("status")["sessions"][0]
    assert row["surface"] == "unknown" and row["alive"], row  # never a half-known `idle`
    t.type(b"r")  # the child redraws its whole screen
    retry_until(lambda: tb_json("status")["sessions"][0]["surface"] == "idle", 10)
    assert wrapper_info(home, "flaky")["text"].startswith("child $")
    t.type(b"f")  # fails again: not logged again
    t.read(b"after")
    t.type(b"x")
    assert t.read_to_exit() == 3  # the child ran on to its own exit
    assert len(emulator_errors(home)) == 1
    assert t.out == wrote.read_bytes()  # and everything it wrote reached the terminal


def test_resizes_during_heavy_output_neither_hang_the_wrapper_nor_lose_the_size(term, home, short_tmp):
    """SIGWINCH lands while the main loop is inside the emulator (which holds its lock): the handler
    must not wait for that lock (it would wait for itself), and the emulator must end at the last size."""
    payload = short_tmp / "payload"
    payload.write_bytes((b"x" * 99 + b"\r\n") * 20000)  # 2 MB: the emulator is busy for seconds
    t = term(["--name", "big", "--", PY, CHILD, str(short_tmp / "wrote"), "0", str(payload)])
    for i in range(40):
        rows, cols = (40, 132) if i % 2 else (30, 100)
        fcntl.ioctl(t.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        t.proc.send_signal(signal.SIGWINCH)
        t.pump()
    t.read(b"READY", 60)
    text = wrapper_info(home, "big")["text"].split("\n")
    assert len(text) == 40
    t.type(b"x")
    assert t.read_to_exit() == 0
