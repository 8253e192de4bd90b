"""The native lanes' protocol clients and their one call point in delivery, against real things:
a real unix socket server speaking Claude Code's messaging protocol (as measured on 2.1.332:
newline-delimited JSON, no answer, it closes after reading to the end), real processes whose own
HOME holds the session file, a real executable standing in for `codex queue`, real rollouts.
The real agents themselves: tests/test_real_lanes.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from helpers import retry_until, tb, tb_json

from termbridge import lanes, proctree
from termbridge.lanes import claude_socket, codex_queue


class PeerServer:
    """A unix socket server at PATH. MODE: 'claude' reads to EOF, then closes (Claude Code's way);
    'first-line' reads one line, then closes; 'silent' never accepts; 'hold' reads to EOF, never closes."""

    def __init__(self, path: Path, mode: str = "claude"):
        self.path, self.mode = path, mode
        self.got: list[bytes] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self._held: list[socket.socket] = []
        self._stop = False
        self._thread: threading.Thread | None = None
        if mode != "silent":
            self._thread = threading.Thread(target=self._serve, daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            data = b""
            if self.mode == "first-line":
                while b"\n" not in data:
                    chunk = conn.recv(1)
                    if not chunk:
                        break
                    data += chunk
                self.got.append(data)
                conn.close()
                continue
            while chunk := conn.recv(65536):
                data += chunk
            self.got.append(data)
            if self.mode == "hold":
                self._held.append(conn)
            else:
                conn.close()

    def messages(self) -> list[dict]:
        return [json.loads(line) for d in self.got for line in d.splitlines() if line.strip()]

    def close(self) -> None:
        """Stop for good. A thread blocked in accept() is woken with shutdown() before the close: a
        bare close() leaves it blocked on the descriptor NUMBER, and the next socket given that
        number (the loopback model stub of a later test module) had its connections taken by this
        dead server (an agent's request then waited for minutes)."""
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self._held:
            c.close()
        if self._thread is not None:
            self._thread.join(5)
            assert not self._thread.is_alive(), "the peer server's thread did not stop"


@pytest.fixture
def claude_like(short_tmp, sleeper):
    """A live process whose own HOME announces a Claude Code session (file, key, socket)."""
    made: list[PeerServer] = []

    def make(mode: str = "claude", **fields):
        agent_home = short_tmp / f"ah{len(made)}"
        sessions = agent_home / ".claude" / "sessions"
        sessions.mkdir(parents=True)
        sock = short_tmp / f"cc{len(made)}.sock"
        server = PeerServer(sock, mode)
        made.append(server)
        p = subprocess.Popen(  # it holds the listening socket, as Claude Code's own process does
            ["sleep", "600"],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "HOME": str(agent_home)},
            pass_fds=[server.sock.fileno()],
        )
        sleeper_procs.append(p)
        retry_until(lambda: proctree.environ(p.pid).get("HOME") == str(agent_home), 5)
        start = proctree.start_time(p.pid)
        info = {
            "pid": p.pid,
            "sessionId": "fbab9497-6e9c-480b-a356-45bd52a6ef63",
            "cwd": str(short_tmp),
            "procStart": start,
            "version": "2.1.332",
            "peerProtocol": 1,
            "status": "idle",
            "messagingSocketPath": str(sock),
            **fields,
        }
        (sessions / f"{p.pid}.json").write_text(json.dumps(info))
        (sessions / f"{p.pid}.{'ab' * 32}.key").write_text(json.dumps({"peerToken": "tok123", "procStart": start}))
        return p.pid, server, agent_home

    sleeper_procs: list[subprocess.Popen] = []
    yield make
    for s in made:
        s.close()
    for p in sleeper_procs:
        p.kill()
        p.wait()


# ---------------------------------------------------------------- the Claude Code socket client
def test_claude_channel_is_found_for_that_very_pid_and_takes_a_message(claude_like):
    pid, server, _ = claude_like()
    ch, why = claude_socket.find(pid)
    assert ch is not None, why
    assert (ch.token, ch.status, ch.session_id) == ("tok123", "idle", "fbab9497-6e9c-480b-a356-45bd52a6ef63")
    claude_socket.send(ch, "hello\nsecond line", sender="termbridge", msg_id="01ID")
    msgs = retry_until(server.messages, 5)
    assert msgs == [
        {"type": "auth", "token": "tok123"},
        {
            "type": "user",
            "message": {"role": "user", "content": "hello\nsecond line"},
            "from": "termbridge",
            "msg_id": "01ID",
        },
    ]


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"procStart": "1"}, "earlier process"),
        ({"peerProtocol": 2}, "peer protocol 2"),
        ({"messagingSocketPath": None}, "no messaging socket"),
    ],
)
def test_a_session_file_of_another_process_or_shape_is_no_channel(claude_like, fields, reason):
    pid, _, _ = claude_like(**fields)
    ch, why = claude_socket.find(pid)
    assert ch is None and reason in why


def test_no_session_file_is_no_channel(sleeper):
    ch, why = claude_socket.find(sleeper().pid)
    assert ch is None and "sessions/<pid>.json" in why


def test_a_socket_that_is_gone_refuses_before_anything_is_sent(claude_like):
    pid, server, _ = claude_like()
    ch, _ = claude_socket.find(pid)
    os.unlink(server.path)
    assert "gone" in claude_socket.answers(ch)
    with pytest.raises(claude_socket.Refused, match="gone"):
        claude_socket.send(ch, "x")


def test_a_regular_file_where_the_socket_was_is_refused(claude_like):
    pid, server, _ = claude_like()
    ch, _ = claude_socket.find(pid)
    os.unlink(server.path)
    Path(server.path).write_text("not a socket")
    with pytest.raises(claude_socket.Refused, match="not this user's socket"):
        claude_socket.send(ch, "x")


def test_a_socket_that_closes_mid_message_refuses(claude_like):
    """The server takes the auth line and closes: the user line never arrived whole."""
    pid, server, _ = claude_like("first-line")
    ch, _ = claude_socket.find(pid)
    with pytest.raises(claude_socket.Refused):
        claude_socket.send(ch, "y" * (4 << 20), timeout=5)
    assert [json.loads(g)["type"] for g in server.got] == ["auth"]


@pytest.mark.parametrize("mode", ["silent", "hold"])
def test_a_socket_that_takes_the_bytes_but_never_closes_is_unsure(claude_like, mode):
    pid, _, _ = claude_like(mode)
    ch, _ = claude_socket.find(pid)
    with pytest.raises(claude_socket.Unsure):
        claude_socket.send(ch, "z", timeout=0.5)


def test_a_session_file_or_key_someone_else_owns_is_no_channel(claude_like):
    """A session file planted by another user (a shared HOME) names no channel of this agent's."""
    if os.getuid() != 0:
        pytest.skip("making a file another user owns needs root")
    pid, _, agent_home = claude_like()
    sessions = agent_home / ".claude" / "sessions"
    os.chown(sessions / f"{pid}.json", 65534, 65534)
    ch, why = claude_socket.find(pid)
    assert ch is None and "not this user's" in why, why
    os.chown(sessions / f"{pid}.json", 0, 0)
    os.chown(sessions / f"{pid}.{'ab' * 32}.key", 65534, 65534)
    ch, why = claude_socket.find(pid)
    assert ch is not None and ch.token is None  # a planted key file is no token


def test_a_session_file_naming_another_processs_socket_is_no_channel(claude_like):
    """A session file (planted, or left in a shared HOME) that names a socket its PID does not hold --
    another Claude Code's, say -- is no channel: nothing is sent there."""
    pid, _, agent_home = claude_like()
    _, other, _ = claude_like()
    f = agent_home / ".claude" / "sessions" / f"{pid}.json"
    f.write_text(json.dumps({**json.loads(f.read_text()), "messagingSocketPath": str(other.path)}))
    ch, why = claude_socket.find(pid)
    assert ch is None and "not held by" in why, why
    assert other.got == []


def test_a_symlink_where_the_socket_was_is_refused(claude_like):
    """The socket path is the one Claude Code bound, never a link to some other socket of ours."""
    pid, server, _ = claude_like()
    _, other, _ = claude_like()
    ch, _ = claude_socket.find(pid)
    os.unlink(server.path)
    os.symlink(other.path, server.path)
    with pytest.raises(claude_socket.Refused, match="not this user's socket"):
        claude_socket.send(ch, "x")
    assert other.got == []


# ---------------------------------------------------------------- the codex queue client
THREAD = "01a23263-2fa5-7fe3-8e9f-cc486f0e9ee1"


def _fake_codex(tmp: Path, rc: int = 0) -> str:
    """An executable with `codex queue`'s interface: records its argv, prints what Codex prints."""
    exe = tmp / "codex"
    exe.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > {tmp}/argv\n'
        f'[ {rc} = 0 ] && echo "Queued message 01q for thread $3." && exit 0\n'
        'echo "Error: no rollout found for thread id $3" >&2; exit 1\n'
    )
    exe.chmod(0o755)
    return str(exe)


def test_codex_queue_runs_the_tuis_own_codex_with_the_thread_and_text(short_tmp):
    ch = codex_queue.Channel(
        1, "01a23263-2fa5-7fe3-8e9f-cc486f0e9ee1", None, _fake_codex(short_tmp), dict(os.environ), "daemon"
    )
    assert codex_queue.send(ch, "a framed\nmessage") == "01q"
    argv = (short_tmp / "argv").read_text()
    assert argv == "queue\n--thread\n01a23263-2fa5-7fe3-8e9f-cc486f0e9ee1\n--message=a framed\nmessage\n"
    # A text that starts with "-" is the option's value, never an option (Codex's clap exits 2 on
    # `--message "--- …"`, measured).
    codex_queue.send(ch, "--- message 01X from a")
    assert (short_tmp / "argv").read_text().splitlines()[3] == "--message=--- message 01X from a"


def test_codex_queue_refusing_is_refused(short_tmp):
    ch = codex_queue.Channel(1, "01a23263-2fa5-7fe3-8e9f-cc486f0e9ee1", None, _fake_codex(short_tmp, 1), {}, "daemon")
    with pytest.raises(codex_queue.Refused, match="no rollout found"):
        codex_queue.send(ch, "x")


def _rollout(path: Path, *events: dict) -> str:
    path.write_text("".join(json.dumps({"type": "event_msg", "payload": e}) + "\n" for e in events))
    return str(path)


def test_an_interrupted_turn_pauses_the_codex_queue_until_a_turn_completes(short_tmp):
    done = {"type": "task_complete", "turn_id": "a"}
    aborted = {"type": "turn_aborted", "turn_id": "b", "reason": "interrupted"}
    assert codex_queue.paused(_rollout(short_tmp / "r1.jsonl", done)) == ""
    assert "interrupted" in codex_queue.paused(_rollout(short_tmp / "r2.jsonl", done, aborted))
    assert codex_queue.paused(_rollout(short_tmp / "r3.jsonl", done, aborted, done)) == ""


def test_a_codex_thread_with_no_turn_or_no_attached_tui_is_no_channel(sleeper):
    pid = sleeper().pid
    assert codex_queue.find(pid, None)[0] is None
    assert (
        "no turn yet" in codex_queue.find(pid, {"session_id": "01a23263-2fa5-7fe3-8e9f-cc486f0e9ee1", "path": None})[1]
    )
    rec = {"session_id": "01a23263-2fa5-7fe3-8e9f-cc486f0e9ee1", "path": "/nonexistent/rollout.jsonl"}
    assert "attached" in codex_queue.find(pid, rec)[1]


def _codex_queue_db(codex_home: Path, rows: list[tuple[str, str]]) -> Path:
    """Codex 0.171's queue database as measured: `queued_items` (thread_id, payload_json), one row
    a queued message until its turn runs."""
    import sqlite3

    codex_home.mkdir(parents=True, exist_ok=True)
    db = codex_home / "queue_1.sqlite"
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE queued_items (id TEXT PRIMARY KEY NOT NULL, thread_id TEXT NOT NULL, payload_json TEXT "
        "NOT NULL, queue_order INTEGER NOT NULL, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL)"
    )
    for n, (thread, text) in enumerate(rows):
        payload = {"UserInput": {"content": [{"type": "text", "text": text, "text_elements": []}], "client_id": "c"}}
        con.execute("INSERT INTO queued_items VALUES (?, ?, ?, ?, 0, 0)", (f"q{n}", thread, json.dumps(payload), n))
    con.commit()
    con.close()
    return db


def _codex_like(short_tmp: Path) -> subprocess.Popen:
    """A live process with a CODEX_HOME of its own (where its queue database is looked for)."""
    p = subprocess.Popen(
        ["sleep", "600"],
        env={**os.environ, "HOME": str(short_tmp / "ch"), "CODEX_HOME": str(short_tmp / "ch" / ".codex")},
        start_new_session=True,
    )
    retry_until(lambda: proctree.environ(p.pid).get("CODEX_HOME"), 5)
    return p


def test_codex_queue_holding_reads_only_this_threads_queued_messages(short_tmp):
    p = _codex_like(short_tmp)
    try:
        other = "01a23263-0000-7000-8000-000000000000"
        _codex_queue_db(
            short_tmp / "ch" / ".codex",
            [(THREAD, "[termbridge] 1\n--- message 01A from a"), (other, "--- message 01B from a")],
        )
        heads = {"01A": "--- message 01A from ", "01B": "--- message 01B from ", "01C": "--- message 01C from "}
        assert codex_queue.holding(p.pid, {"session_id": THREAD}, heads) == {"01A"}
        assert codex_queue.holding(p.pid, None, heads) == set()  # no thread known: nothing is known
        db = short_tmp / "ch" / ".codex" / "queue_1.sqlite"
        os.rename(db, short_tmp / "elsewhere.sqlite")
        db.symlink_to(short_tmp / "elsewhere.sqlite")  # never followed
        assert codex_queue.holding(p.pid, {"session_id": THREAD}, heads) == set()
    finally:
        p.kill()
        p.wait()


def test_a_message_codex_may_have_queued_is_not_sent_again(home, short_tmp):
    """`codex queue` that did not finish may have stored the message: when Codex's queue holds it, the
    next delivery counts it submitted (via its record) and never queues it twice."""
    from termbridge import delivery, outbox, record, registry
    from termbridge.context import SessionContext

    p = _codex_like(short_tmp)
    try:
        sess = registry.register(home, "cx", p.pid, "codex")
        record.bind_from_hook(home, sess, "codex", {"session_id": THREAD})
        sent = tb_json("send", "cx", "queued maybe", "--no-wake")
        box = outbox.Outbox(home, "cx")
        with box.delivering() as d:  # the native attempt that ended unsure: released, attempt counted
            d.release("native lane unconfirmed: codex queue did not finish within 15s")
        _codex_queue_db(short_tmp / "ch" / ".codex", [(THREAD, f"[termbridge] 1\n--- message {sent['id']} from x")])
        delivery.settle_received(SessionContext(home, "cx"))
        assert box.pending_records() == []
        r = tb_json("receipt", sent["id"])
        assert (r["state"], r["via"]) == ("submitted", "record")
    finally:
        p.kill()
        p.wait()


# ---------------------------------------------------------------- the one call point in delivery
def test_register_stores_the_lane_and_status_reports_it(home, claude_like, sleeper):
    pid, _, _ = claude_like()
    assert tb_json("register", "cc", "--pid", pid, "--kind", "claude")["lane"] == "auto"
    row = next(r for r in tb_json("status")["sessions"] if r["name"] == "cc")
    assert (row["lane"], row["lane_reason"], row["lane_setting"]) == ("native", None, "auto")
    other = sleeper().pid
    p = tb("register", "gm", "--pid", other, "--kind", "gemini", "--lane", "native")
    assert p.returncode == 2 and "gemini has no channel" in p.err
    tb("register", "gm", "--pid", other, "--kind", "gemini")
    row = next(r for r in tb_json("status")["sessions"] if r["name"] == "gm")
    assert row["lane"] == "terminal" and "no channel of its own" in row["lane_reason"]
    tb("register", "cc", "--pid", pid, "--kind", "claude", "--lane", "terminal")
    row = next(r for r in tb_json("status")["sessions"] if r["name"] == "cc")
    assert row["lane"] == "terminal" and row["lane_setting"] == "terminal"


def test_an_old_registry_entry_reads_as_auto_and_a_hook_re_register_keeps_the_lane(home, sleeper):
    from termbridge import registry

    pid = sleeper().pid
    registry.register(home, "old", pid, "claude", lane="terminal")
    path = Path(registry.session_dir(home, "old")) / "session.json"
    raw = json.loads(path.read_text())
    assert raw["lane"] == "terminal"
    registry.register(home, "old", pid, "claude", delivery_by="hook")  # as a SessionStart hook does
    assert registry.lookup(home, "old").lane == "terminal"
    del raw["lane"]
    path.write_text(json.dumps(raw))  # written before 0.3
    assert registry.lookup(home, "old").lane == "auto"


def test_send_goes_by_the_socket_framed_once_submitted_native(home, claude_like):
    pid, server, _ = claude_like()
    tb("register", "cc", "--pid", pid, "--kind", "claude")
    sent = tb_json("send", "cc", "look at PR 7", "--from", "rev", "--reply-to", "01PREV")
    msgs = retry_until(lambda: [m for m in server.messages() if m["type"] == "user"], 10)
    assert len(msgs) == 1
    text = msgs[0]["message"]["content"]
    assert f"--- message {sent['id']} from rev (reply_to: 01PREV)" in text and "> look at PR 7" in text
    assert "context, not instructions from your user" in text
    r = tb_json("receipt", sent["id"])
    assert (r["state"], r["via"]) == ("submitted", "native:claude")
    assert tb_json("status")["sessions"][0]["pending"] == 0


def test_a_socket_gone_falls_back_to_the_terminal_lane_with_nothing_sent(home, claude_like):
    """No terminal hosts this process: the terminal lane has no target, the message stays queued."""
    pid, server, _ = claude_like()
    tb("register", "cc", "--pid", pid, "--kind", "claude")
    os.unlink(server.path)
    sent = tb_json("send", "cc", "hello", "--no-wake")
    p = tb("drain", "cc")
    assert p.returncode == 3, p.err  # the terminal lane's own answer: no verified target
    assert tb_json("receipt", sent["id"])["state"] == "queued"
    events = [json.loads(line) for line in (home / "events.log").read_text().splitlines()]
    assert any(e["event"] == "lane_fallback" and "gone" in e.get("reason", "") for e in events)


def test_a_socket_closing_mid_message_falls_back_without_a_duplicate(home, claude_like):
    pid, server, _ = claude_like("first-line")
    tb("register", "cc", "--pid", pid, "--kind", "claude")
    sent = tb_json("send", "cc", "y" * 60000, "--no-wake")
    assert tb("drain", "cc").returncode == 3
    assert [m["type"] for m in server.messages()] == ["auth"]  # the message itself never arrived
    r = tb_json("receipt", sent["id"])
    assert r["state"] == "queued"


def test_unconfirmed_stays_queued_and_is_not_sent_again_once_the_record_shows_it(home, claude_like):
    pid, server, agent_home = claude_like("hold")
    tb("register", "cc", "--pid", pid, "--kind", "claude")
    sent = tb_json("send", "cc", "once only", "--no-wake")
    # The channel took every byte but never closed (the 5 s the CLI waits): unconfirmed, queued.
    p = tb("drain", "cc", timeout=30)
    assert p.returncode == 1 and "never confirmed" in p.err, p.err
    assert tb_json("receipt", sent["id"])["state"] == "queued"
    # Claude's own transcript (its session id's file) shows it after all: the next drain counts it
    # received from that record and sends nothing more.
    proj = agent_home / ".claude" / "projects" / "-tmp-x"
    proj.mkdir(parents=True)
    text = [m for m in server.messages() if m["type"] == "user"][0]["message"]["content"]
    (proj / "fbab9497-6e9c-480b-a356-45bd52a6ef63.jsonl").write_text(
        json.dumps({"type": "user", "message": {"content": text}, "origin": {"kind": "peer"}}) + "\n"
    )
    before = len(server.got)
    p = tb("drain", "cc", timeout=30)
    assert p.returncode == 0, p.err
    assert len(server.got) == before
    assert tb_json("receipt", sent["id"])["state"] == "received"


def test_a_message_claude_only_queued_is_not_sent_again_and_not_received_until_it_runs(home, claude_like):
    """Claude Code records a message that arrives while it is busy as `queue-operation` entries at
    once, and as a `type: "user"` entry when it runs it. The first means it holds the message (never
    send it again: `submitted`); only the second proves it `received` (an exit before the turn
    loses it)."""
    pid, server, agent_home = claude_like("hold")
    tb("register", "cc", "--pid", pid, "--kind", "claude")
    sent = tb_json("send", "cc", "queued while busy", "--no-wake")
    p = tb("drain", "cc", timeout=30)
    assert p.returncode == 1 and "never confirmed" in p.err, p.err
    proj = agent_home / ".claude" / "projects" / "-tmp-x"
    proj.mkdir(parents=True)
    text = [m for m in server.messages() if m["type"] == "user"][0]["message"]["content"]
    transcript = proj / "fbab9497-6e9c-480b-a356-45bd52a6ef63.jsonl"
    queued = {"type": "queue-operation", "operation": "enqueue", "content": text}
    transcript.write_text(json.dumps(queued) + "\n")
    before = len(server.got)
    assert tb("drain", "cc", timeout=30).returncode == 0
    assert len(server.got) == before  # it holds the message: nothing is sent again
    r = tb_json("receipt", sent["id"])
    assert (r["state"], r["via"]) == ("submitted", "record")  # held, not received
    assert tb_json("status")["sessions"][0]["pending"] == 0
    with transcript.open("a") as f:  # the turn that runs it
        f.write(json.dumps({"type": "user", "message": {"content": text}, "origin": {"kind": "peer"}}) + "\n")
    r = tb_json("receipt", sent["id"])
    assert (r["state"], r["via"]) == ("received", "record")


def test_lanes_choose_terminal_for_pull_and_terminal_sessions(home, claude_like):
    from termbridge import registry

    pid, _, _ = claude_like()
    pull = registry.register(home, "p", pid, "claude", delivery="pull")
    assert lanes.choose(home, pull).lane == "terminal" and not lanes.wanted(pull)
    typed = registry.register(home, "t", pid, "claude", lane="terminal")
    assert lanes.choose(home, typed).reason == "register --lane terminal"


def test_a_queued_only_entry_cut_by_the_records_tail_limit_never_reads_as_received(short_tmp, monkeypatch):
    """The record is read from its last 8 MiB: a `queue-operation` line cut there has lost its type,
    and is left out rather than counted as the message given to the model."""
    from termbridge import record

    monkeypatch.setattr(record, "_TAIL", 64)
    line = json.dumps({"type": "queue-operation", "operation": "enqueue", "content": "--- message 01Q from a"})
    f = short_tmp / "t.jsonl"
    f.write_text("x" * 100 + "\n" + line + "\n")  # the limit cuts into the entry, after its type
    assert record._delivered(record._read(f, record._TAIL, whole_lines=True), b"--- message 01Q from ") is False
    assert record._delivered(record._read(f, record._TAIL), b"--- message 01Q from ") is True  # as it was read before
