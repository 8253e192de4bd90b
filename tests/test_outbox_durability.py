"""The outbox under real concurrency and real crashes (SIGKILL mid-write, mid-drain)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from helpers import TB, tb, tb_json

from termbridge.outbox import Outbox

pytestmark = pytest.mark.timeout(240)


def _py(code: str, *args: str, env=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env or os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _drain_all(home, name="c") -> list[dict]:
    p = tb("drain", name, "--json")
    assert p.returncode == 0, p.err
    return [json.loads(line) for line in p.out.splitlines()]


@pytest.fixture
def session(home, sleeper):
    assert tb("register", "c", "--pid", sleeper().pid).returncode == 0
    return "c"


def test_many_processes_send_at_once(home, session):
    producers, per = 8, 120
    code = """
        import sys
        from pathlib import Path
        from termbridge.outbox import Outbox
        box = Outbox(Path(sys.argv[1]), "c")
        for j in range(int(sys.argv[3])):
            box.append(f"{sys.argv[2]}:{j}", sender=f"p{sys.argv[2]}")
    """
    procs = [_py(code, str(home), str(i), str(per)) for i in range(producers)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    msgs = _drain_all(home)
    bodies = [m["body"] for m in msgs]
    assert len(bodies) == len(set(bodies)) == producers * per  # nothing lost, nothing duplicated
    for i in range(producers):
        seq = [int(b.split(":")[1]) for b in bodies if b.startswith(f"{i}:")]
        assert seq == list(range(per))  # order per producer kept
    ids = [m["id"] for m in msgs]
    assert len(set(ids)) == len(ids)


def test_cli_senders_in_parallel(home, session):
    procs = [subprocess.Popen([*TB, "send", "c", f"m{i}", "--no-wake"], stdout=subprocess.PIPE) for i in range(16)]
    ids = {p.communicate()[0].decode().strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    got = _drain_all(home)
    assert {m["id"] for m in got} == ids and len(got) == 16


def test_senders_sigkilled_mid_write(home, session):
    """Every send that exited 0 is drained exactly once; no record is glued to another."""
    rng = random.Random(7)
    acked: dict[str, str] = {}
    killed = 0
    for i in range(60):
        body = f"<{i}>" + chr(ord("a") + i % 26) * rng.randint(20_000, 60_000) + f"</{i}>"
        p = subprocess.Popen(
            [*TB, "send", "c", "-", "--no-wake"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        p.stdin.write(body.encode())
        p.stdin.close()
        time.sleep(rng.uniform(0.0, 0.25))
        p.send_signal(signal.SIGKILL)
        out = p.stdout.read().decode().strip()
        p.wait()
        if p.returncode == 0:
            acked[out] = body
        else:
            killed += 1
    assert killed > 0 and acked  # the test really crashed some senders and let others finish
    msgs = _drain_all(home)
    by_id = {}
    for m in msgs:
        assert m["id"] not in by_id
        by_id[m["id"]] = m["body"]
        n = m["body"][1 : m["body"].index(">")]
        assert m["body"].endswith(f"</{n}>") and m["body"].count("<") == 2  # intact, not glued
    for mid, body in acked.items():
        assert by_id.get(mid) == body
    assert _drain_all(home) == []


def test_writer_killed_mid_record_heals_tail(home, session):
    """A writer SIGKILLed holding the lock with half a record written: neighbours survive."""
    box = Outbox(home, "c")
    first = box.append("before")
    code = """
        import os, signal, sys
        from pathlib import Path
        from termbridge import paths
        from termbridge.outbox import Outbox
        box = Outbox(Path(sys.argv[1]), "c")
        with box._lock():
            fd = paths.open_state(box.pending_path, os.O_WRONLY | os.O_APPEND)
            os.write(fd, b'{"id": "01TORN", "body": "half a rec')
            os.fsync(fd)
            os.kill(os.getpid(), signal.SIGKILL)
    """
    p = _py(code, str(home))
    assert p.wait(timeout=30) == -signal.SIGKILL
    after = box.append("after")
    msgs = _drain_all(home)
    assert [m["id"] for m in msgs] == [first["id"], after["id"]]
    dead = [json.loads(line) for line in tb("dead-letter", "c", "--json").out.splitlines()]
    assert len(dead) == 1 and dead[0]["reason"].startswith("torn record") and "half a rec" in dead[0]["raw"]


def test_garbage_bytes_in_outbox(home, session):
    box = Outbox(home, "c")
    a = box.append("alpha")
    with open(box.pending_path, "ab") as f:
        f.write(b"\x00\xffgarbage{not json\n")
    b = box.append("beta")
    with open(box.pending_path, "ab") as f:
        f.write(b"trailing junk without newline")
    c = box.append("gamma")
    msgs = _drain_all(home)
    assert [m["id"] for m in msgs] == [a["id"], b["id"], c["id"]]
    reasons = sorted(
        json.loads(line)["reason"].split(":")[0] for line in tb("dead-letter", "c", "--json").out.splitlines()
    )
    assert reasons == ["torn record", "unparseable record"]
    assert tb_json("status")["sessions"][0]["dead_letters"] == 2


def test_drains_sigkilled_repeatedly(home, session):
    """Union of all deliveries is everything; nothing a completed drain delivered shows up again."""
    box = Outbox(home, "c")
    sent = {box.append(f"msg {i} " + "z" * 200)["id"] for i in range(4000)}
    rng = random.Random(3)
    outputs = []  # (completed, ids, finished_at_index)
    for round_ in range(14):
        p = subprocess.Popen([*TB, "drain", "c", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.05, 0.6))
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate()
        ids = []
        for line in out.decode(errors="replace").split("\n"):
            try:
                ids.append(json.loads(line)["id"])
            except (ValueError, KeyError):
                pass  # a line cut by the kill
        outputs.append((p.returncode == 0, ids))
        if round_ % 3 == 2:  # new messages keep arriving between crashes
            sent |= {box.append(f"late {round_}.{k}")["id"] for k in range(50)}
    final = [m["id"] for m in _drain_all(home)]
    outputs.append((True, final))
    assert any(not done for done, _ in outputs[:-1])  # some drains really died
    delivered = set().union(*(set(ids) for _, ids in outputs))
    assert sent <= delivered
    completed: set[str] = set()
    for done, ids in outputs:
        assert not (set(ids) & completed), "an id was delivered again after a completed drain"
        if done:
            completed |= set(ids)
    assert _drain_all(home) == []
    assert tb_json("status")["sessions"][0]["in_flight"] == 0


def test_concurrent_drains_partition(home, session):
    producer = """
        import sys
        from pathlib import Path
        from termbridge.outbox import Outbox
        box = Outbox(Path(sys.argv[1]), "c")
        for j in range(600):
            box.append(f"{sys.argv[2]}:{j}")
    """
    drainer = """
        import json, sys, time
        from pathlib import Path
        from termbridge.outbox import Outbox
        box = Outbox(Path(sys.argv[1]), "c")
        idle = 0
        while idle < 20:
            claim = box.claim()
            if claim is None:
                idle += 1; time.sleep(0.02); continue
            idle = 0
            for r in claim.records:
                print(r["id"])
            sys.stdout.flush()
            box.commit(claim)
    """
    prods = [_py(producer, str(home), str(i)) for i in range(3)]
    drains = [_py(drainer, str(home)) for _ in range(4)]
    for p in prods:
        assert p.wait(timeout=120) == 0
    seen: list[str] = []
    for d in drains:
        out, err = d.communicate(timeout=120)
        assert d.returncode == 0, err
        seen += out.decode().split()
    seen += [m["id"] for m in _drain_all(home)]
    assert len(seen) == len(set(seen)) == 1800


def test_last_wins_key(home, session):
    box = Outbox(home, "c")
    box.append("v1", key="build")
    keep = box.append("other")
    v3 = box.append("v3", key="build")
    assert tb_json("status")["sessions"][0]["pending"] == 2
    msgs = _drain_all(home)
    assert [m["id"] for m in msgs] == [keep["id"], v3["id"]]


def test_kept_open_pending_log_follows_rewrites_and_refuses_a_swapped_link(home, sleeper, short_tmp):
    """One Outbox appends through a descriptor it keeps; a drain's rewrite (a rename) or a
    planted symlink must make it reopen, never write into the old or a foreign file."""
    from termbridge import registry
    from termbridge.errors import StateError
    from termbridge.outbox import Outbox

    registry.register(home, "k", sleeper().pid)
    box, other = Outbox(home, "k"), Outbox(home, "k")
    a = box.append("before the rewrite")["id"]
    claim = other.claim()  # rewrites pending.log (temp + rename) under the lock
    assert claim.ids == [a]
    other.commit(claim)
    b = box.append("after the rewrite")["id"]
    assert [r["id"] for r in other.pending_records()] == [b]
    victim = short_tmp / "victim.log"
    victim.write_text("")
    pending = home / "sessions" / "k" / "pending.log"
    pending.unlink()
    pending.symlink_to(victim)
    with pytest.raises(StateError):
        box.append("must not land in the link's target")
    assert victim.read_text() == ""


def test_receipts_log_stays_bounded(home, sleeper):
    """receipts.log is cut to its newest half past _MAX_LINES entries (checked by size first, so a
    commit does not read the whole log)."""
    from termbridge import receipts, receipts_log, registry

    registry.register(home, "r", sleeper().pid)
    ids = [f"01M8D6TQS9777NHBEZHM{i:06d}" for i in range(receipts_log._MAX_LINES + 5)]
    receipts_log.record(home, "r", ids[:100], "submitted", "screen")
    assert len(receipts_log.entries(home, "r")) == 100  # small: untouched
    receipts_log.record(home, "r", ids[100:], "submitted", "screen")
    kept = receipts_log.entries(home, "r")
    assert len(kept) <= receipts_log._MAX_LINES // 2 + 1 and kept[-1]["id"] == ids[-1]
    assert receipts.lookup(home, ids[-1], scan_transcripts=False)["state"] == "submitted"
