"""The local durable forward queue of each host, and its forwarder.

`send NAME@HOST` appends the message here (fsync'd) and returns; a per-host forwarder -- one
detached process, started by `send` when none runs, ending by itself when the queue is empty
(the waiter is its model) -- hands the messages, in order, to `termbridge rpc` on HOST, which
puts each into NAME's outbox there. HOST keeps the ids it has taken, so a batch sent again after
a lost answer, a dropped link or a SIGKILLed forwarder is taken once. An unreachable HOST is
retried with back-off; the messages wait here.

Files under STATE/hosts/<host key>/ (0600 in a 0700 directory):

  host.json      the host's name as given (the directory name is a safe form of it)
  queue.log      appended records, one JSON line each, fsync'd before `send` exits 0
  forwarded.log  {"id","session","t"} for every id HOST confirmed it took (fsync'd)
  dead.log       records HOST refused (e.g. no such session there) or that expired here
  receipts.log   the latest receipt HOST gave for a forwarded id
  queue.lock     serialises appends, confirmations and compaction (never deleted)
  forwarder.lock held by the running forwarder for its whole life; forwarder.json names it
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

from termbridge import events, paths, proctree
from termbridge.ids import new_id
from termbridge.sanitize import sanitize_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

BATCH = 100  # messages per rpc call
BATCH_BYTES = 1 << 20  # ...and at most this many body bytes
RECEIPT_BUDGET_S = 8.0  # `receipt ID` asks HOST; past this (plus the connect timeout) it says what is known here
_KEEP_LINES = 20000  # forwarded.log / receipts.log keep the newest half past this
_SEP = (",", ":")


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=_SEP).encode()


def host_key(host: str) -> str:
    """A directory name for HOST: its safe characters and a short hash (user@h and [::1] differ)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", host)[:40]
    return f"{safe}-{hashlib.sha256(host.encode()).hexdigest()[:8]}"


def hosts_dir(home: StrPath) -> Path:
    return Path(home) / "hosts"


def _lines(path: Path) -> list[dict]:
    out = []
    for line in (paths.read_bytes(path) or b"").split(b"\n"):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
        except ValueError:
            continue  # a torn tail of a killed writer: the record was never acknowledged
        if isinstance(e, dict) and isinstance(e.get("id"), str):
            out.append(e)
    return out


class ForwardQueue:
    """One host's durable forward queue."""

    def __init__(self, home: StrPath, host: str):
        self.home, self.host = Path(home), host
        paths.add_root(self.home)
        self.dir = hosts_dir(home) / host_key(host)
        self.queue_path = self.dir / "queue.log"
        self.forwarded_path = self.dir / "forwarded.log"
        self.dead_path = self.dir / "dead.log"
        self.receipts_path = self.dir / "receipts.log"

    def _lock(self, timeout: float = 30.0) -> paths.StateLock:
        paths.ensure_dir(self.dir)
        return paths.state_lock(self.dir / "queue.lock", timeout=timeout)

    def lock(self) -> paths.StateLock:
        """The queue lock: appends, confirmations, compaction, and the forwarder's decision to end."""
        return self._lock()

    # ---------------------------------------------------------------- writing
    def append(
        self, session: str, body: str, sender, reply_to, key, ttl: float | None, ask: bool = False, msg_id=None
    ) -> dict:
        """Durably enqueue one message for SESSION on the host; its record (fsync'd before returning).
        ASK marks a question (`ask NAME@HOST`: HOST makes it one of its own); MSG_ID: the id the
        caller made first (its local question file exists before the record)."""
        now = time.time()
        rec = {
            "id": msg_id or new_id(),
            "session": session,
            "host": self.host,
            "from": sender,
            "reply_to": reply_to,
            "key": key,
            "body": body,
            "created_at": round(now, 6),
            "expires_at": round(now + ttl, 6) if ttl else None,
        }
        if ask:
            rec["ask"] = True
        with self._lock():
            if not (self.dir / "host.json").exists():
                paths.atomic_write(self.dir / "host.json", _dumps({"host": self.host}))
            fd = paths.open_state(self.queue_path, os.O_RDWR | os.O_APPEND, create=True)
            try:
                size = os.fstat(fd).st_size
                # A writer killed mid-line left a torn tail: start on a line of our own.
                lead = b"\n" if size and os.pread(fd, 1, size - 1) != b"\n" else b""
                paths.write_all(fd, lead + _dumps(rec) + b"\n")
                paths.sync_data(fd)
            finally:
                os.close(fd)
            if size == 0:
                paths.fsync_dir(self.dir)
        events.log_event(self.home, "forward_queued", f"{session}@{self.host}", id=rec["id"], chars=len(body))
        return rec

    def confirm(self, taken: list[dict], dead: list[tuple[dict, str]]) -> None:
        """Record what HOST took (ids + sessions) and what it refused for good (dead, with why)."""
        now = round(time.time(), 6)
        with self._lock():
            if taken:
                data = b"".join(_dumps({"id": r["id"], "session": r["session"], "t": now}) + b"\n" for r in taken)
                paths.append_durable(self.forwarded_path, data)
            if dead:
                lines = (_dumps({"id": r["id"], "record": r, "reason": why, "t": now}) + b"\n" for r, why in dead)
                paths.append_durable(self.dead_path, b"".join(lines))
        for r in taken:
            events.log_event(self.home, "forwarded", f"{r['session']}@{self.host}", id=r["id"])
        for r, why in dead:
            events.log_event(self.home, "dead_lettered", f"{r['session']}@{self.host}", id=r["id"], reason=why)

    def compact(self) -> bool:
        """When nothing waits, empty queue.log (and cut the logs to size); True when nothing waits.
        Under the queue lock, so an append is either seen here or after."""
        with self._lock():
            if self.pending():
                return False
            if (paths.read_bytes(self.queue_path) or b"").strip():
                paths.atomic_write(self.queue_path, b"")
            for p in (self.forwarded_path, self.receipts_path):
                data = paths.read_bytes(p) or b""
                if data.count(b"\n") > _KEEP_LINES:
                    paths.atomic_write(p, b"\n".join(data.split(b"\n")[-(_KEEP_LINES // 2) - 1 :]))
            return True

    def note_receipt(self, receipt: dict) -> None:
        """Keep the latest receipt HOST gave (so `receipt ID` still answers while HOST is down)."""
        entry = {k: receipt.get(k) for k in ("id", "session", "state", "at", "via", "answer", "reason")}
        entry["t"] = round(time.time(), 6)
        with self._lock():
            paths.append_durable(self.receipts_path, _dumps(entry) + b"\n", sync=False)

    # ---------------------------------------------------------------- reading
    def _done_ids(self) -> set[str]:
        return {e["id"] for e in _lines(self.forwarded_path)} | {e["id"] for e in _lines(self.dead_path)}

    def pending(self) -> list[dict]:
        """Records not yet taken by HOST nor dead, oldest first (each id once)."""
        done = self._done_ids()
        out, seen = [], set()
        for r in _lines(self.queue_path):
            if r["id"] not in done and r["id"] not in seen and isinstance(r.get("body"), str):
                seen.add(r["id"])
                out.append(r)
        return out

    def find(self, msg_id: str) -> dict | None:
        """Where MSG_ID stands here: {"state": queued|forwarded|dead|expired, "session", …} or None."""
        for e in _lines(self.dead_path):
            if e["id"] == msg_id:
                rec = e["record"] if isinstance(e.get("record"), dict) else {}
                state = "expired" if str(e.get("reason", "")).startswith("expired") else "dead"
                return {"state": state, "session": rec.get("session"), "reason": e.get("reason"), "at_t": e.get("t")}
        for e in _lines(self.forwarded_path):
            if e["id"] == msg_id:
                return {"state": "forwarded", "session": e.get("session"), "at_t": e.get("t")}
        for r in _lines(self.queue_path):
            if r["id"] == msg_id:
                return {"state": "queued", "session": r.get("session"), "at_t": r.get("created_at")}
        return None

    def last_receipt(self, msg_id: str) -> dict | None:
        found = [e for e in _lines(self.receipts_path) if e["id"] == msg_id]
        return found[-1] if found else None

    def stats(self) -> dict:
        return {"pending": len(self.pending()), "dead_letters": len(_lines(self.dead_path))}

    def last_error(self) -> str | None:
        state = paths.read_json(self.dir / "forwarder_state.json", {})
        return state.get("error") if isinstance(state, dict) else None


def all_queues(home: StrPath) -> list[ForwardQueue]:
    """Every host with a forward queue here."""
    out = []
    for d in paths.list_dir(hosts_dir(home)):
        info = paths.read_json(hosts_dir(home) / d / "host.json", {})
        if isinstance(info, dict) and isinstance(info.get("host"), str):
            out.append(ForwardQueue(home, info["host"]))
    return out


# ---------------------------------------------------------------- the forwarder
def live_forwarder(home: StrPath, host: str) -> dict | None:
    """{"pid", "since"} of HOST's running forwarder, or None."""
    from termbridge import background

    info = background.live(ForwardQueue(home, host).dir / "forwarder.json")
    return {"pid": info["pid"], "since": info.get("since")} if info else None


def start_forwarder(home: StrPath, host: str) -> bool:
    """Start HOST's forwarder, detached, unless one runs; True when one was started."""
    from termbridge import background

    if live_forwarder(home, host):
        return False
    background.spawn(home, ["-m", "termbridge", "forwarder", host])
    return True


def run_forwarder(home: StrPath, host: str) -> str:
    """Forward HOST's queue until it is empty (or idle_wait_max_s passes); returns why it stopped."""
    from termbridge.config import load_config

    cfg = load_config()
    q = ForwardQueue(home, host)
    paths.ensure_dir(q.dir)
    # A forwarder that just decided to end may still hold the lock for a moment: wait that out.
    lock = paths.state_lock(q.dir / "forwarder.lock", timeout=5.0)
    try:
        lock.acquire()
    except Exception:  # noqa: BLE001 - another forwarder holds it: that one does the job
        return "another forwarder runs"
    me = os.getpid()
    who = f"@{host}"
    try:
        paths.atomic_write(
            q.dir / "forwarder.json",
            _dumps({"pid": me, "start": proctree.start_time(me), "since": time.time()}),
        )
        events.log_event(home, "forwarder_started", who, pid=me)
        reason = "crashed"
        try:
            reason = _forward_all(home, q, cfg)
        finally:
            events.log_event(home, "forwarder_exit", who, pid=me, reason=reason)
        return reason
    finally:
        paths.unlink_durable(q.dir / "forwarder.json")
        lock.release()


def _forward_all(home: StrPath, q: ForwardQueue, cfg: dict) -> str:
    from termbridge import remote_questions, ssh

    hc = ssh.host_config(q.host, cfg)
    deadline = time.monotonic() + cfg["idle_wait_max_s"]
    failures = 0
    while True:
        batch = _batch(q.pending())
        if not batch:
            # Under the queue lock: a `send` that appended (or an `ask` that gave up) before this
            # sees us gone only after forwarder.json is removed, and starts the next forwarder itself.
            late: list[dict] = []
            with q._lock():
                if not q.pending():
                    if time.monotonic() < deadline:
                        late = remote_questions.open_late(q.dir)
                    if not late:
                        paths.unlink_durable(q.dir / "forwarder.json")
                done = not late and not q.pending()
            if done:
                q.compact()
                return "nothing pending"
            if late:
                try:
                    look_for_answers(home, q, hc, late)
                    failures = 0
                except ssh.HostError as e:
                    failures += 1
                    _note_state(q, str(e), failures)
                _nap(q, max(remote_questions.LATE_POLL_S, backoff_s(cfg, failures) if failures else 0.0))
            continue
        try:
            forward_batch(home, q, hc, batch)
            failures = 0
            _note_state(q, None)
        except ssh.HostError as e:
            failures += 1
            _note_state(q, str(e), failures)
            events.log_event(home, "forward_failed", f"@{q.host}", error=str(e)[:300], failures=failures)
            if time.monotonic() > deadline:
                return f"gave up after idle_wait_max_s ({cfg['idle_wait_max_s']} s): {e}"
            time.sleep(backoff_s(cfg, failures))


def look_for_answers(home: StrPath, q: ForwardQueue, hc, late: list[dict]) -> None:
    """Ask HOST (one call) for the receipts of questions no `ask` waits for any more; an answer goes
    to its asker here (remote_questions.seen_answer); a question HOST dropped is closed."""
    from termbridge import remote_questions, ssh

    asks = []
    for question in late[:BATCH]:
        where = q.find(question["id"])
        if where is None or where["state"] in ("dead", "expired"):
            remote_questions.close(q.dir, question["id"], (where or {}).get("reason") or "not in the forward queue")
        elif where["state"] == "forwarded":
            asks.append({"op": "receipt", "id": question["id"], "session": where.get("session")})
    if not asks:
        return
    answers = ssh.rpc_call(home, hc, asks, timeout=hc.connect_timeout_s + RECEIPT_BUDGET_S)
    for req, answer in zip(asks, answers, strict=True):
        r = answer.get("receipt")
        if not answer.get("ok") or not isinstance(r, dict):
            if answer.get("exit") == 3:  # HOST knows no such message (its state was wiped): none will come
                remote_questions.close(q.dir, req["id"], f"{q.host}: {answer.get('error')}")
            continue
        q.note_receipt(r)
        if r.get("state") == "answered":
            remote_questions.seen_answer(home, q.dir, req["id"], r.get("answer"))
        elif r.get("state") in ("dead", "expired"):
            remote_questions.close(q.dir, req["id"], f"{q.host}: {r.get('state')}")


def _nap(q: ForwardQueue, seconds: float) -> None:
    """Sleep up to SECONDS, waking early when a message is queued (a `send` finds this forwarder live)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not q.pending():
        time.sleep(0.2)


BACKOFF_CAP_S = 30.0  # a host that comes back is tried again within this, whatever backoff_max_ms says


def backoff_s(cfg: dict, failures: int) -> float:
    """Seconds before retry number FAILURES: backoff_base_ms doubling, capped by backoff_max_ms and 30 s."""
    base, cap = cfg["backoff_base_ms"] / 1000, min(BACKOFF_CAP_S, cfg["backoff_max_ms"] / 1000)
    return max(0.05, min(cap, base * 2 ** max(0, failures - 1)))


def _note_state(q: ForwardQueue, error: str | None, failures: int = 0) -> None:
    paths.atomic_write(
        q.dir / "forwarder_state.json", _dumps({"error": error, "failures": failures, "t": round(time.time(), 3)})
    )


def _batch(pending: list[dict]) -> list[dict]:
    out: list[dict] = []
    size = 0
    for r in pending:
        size += len(r["body"].encode("utf-8"))
        if out and (len(out) >= BATCH or size > BATCH_BYTES):
            break
        out.append(r)
    return out


def forward_batch(home: StrPath, q: ForwardQueue, hc, batch: list[dict]) -> None:
    """One `take` call for BATCH; records what HOST took or refused. HostError when it failed as a
    whole (nothing recorded: the same ids go again, and HOST takes each once)."""
    from termbridge import ssh

    now = time.time()
    live, expired = [], []
    for r in batch:
        if r.get("expires_at") and r["expires_at"] <= now:
            expired.append((r, "expired before it reached the host"))
        else:
            live.append(r)
    msgs = [
        {
            "id": r["id"],
            "session": r["session"],
            "from": r.get("from"),
            "reply_to": r.get("reply_to"),
            "key": r.get("key"),
            "body": r["body"],
            "ttl": round(r["expires_at"] - now, 3) if r.get("expires_at") else None,
            **({"ask": True} if r.get("ask") is True else {}),
        }
        for r in live
    ]
    results: list[dict] = []
    if msgs:
        (answer,) = ssh.rpc_call(home, hc, [{"op": "take", "messages": msgs}])
        if not answer.get("ok"):
            raise ssh.HostError(q.host, f"refused the batch: {answer.get('error')}", kind="remote_error")
        results = answer.get("results") or []
    by_id = {r["id"]: r for r in live}
    taken, dead = [], list(expired)
    for res in results:
        rec = by_id.get(res.get("id"))
        if rec is None:
            continue
        if res.get("taken") is not None:
            taken.append(rec)
        elif res.get("exit") in (2, 3):  # bad input or no such session there: it will not go better
            dead.append((rec, f"{q.host}: {res.get('error')}"))
    q.confirm(taken, dead)
    if not taken and not dead:  # HOST failed every one (its state, a lock): back off, never spin
        first = next((r.get("error") for r in results if r.get("error")), "no answer for any message")
        raise ssh.HostError(q.host, f"took none of {len(batch)} messages: {first}", kind="remote_error")


# ---------------------------------------------------------------- what `send` and `receipt` call
def send_remote(
    home: StrPath, name: str, host: str, body: str, sender, reply_to, key, ttl, ask: bool = False, msg_id=None
) -> dict:
    """Commit BODY for NAME@HOST to the local forward queue (durable), then make sure HOST's
    forwarder runs. The record. ASK: a question (remote_ask.py)."""
    q = ForwardQueue(home, host)
    rec = q.append(name, body, sender, reply_to, key, ttl, ask=ask, msg_id=msg_id)
    try:
        start_forwarder(home, host)
    except OSError as e:  # the message is durable; the next send (or `status`) starts it
        events.log_event(home, "forwarder_start_failed", f"{name}@{host}", error=str(e)[:200])
    return rec


def kick(home: StrPath) -> None:
    """Start the forwarder of every host with messages waiting (or answers to look for: questions
    no `ask` waits for any more) and none running (status, doctor)."""
    from termbridge import remote_questions

    for q in all_queues(home):
        if (q.pending() or remote_questions.open_late(q.dir)) and not live_forwarder(home, q.host):
            start_forwarder(home, q.host)


def lookup_receipt(home: StrPath, msg_id: str, ask: bool = True) -> dict | None:
    """The receipt of a message sent to another host: asked of HOST when ASK and it was forwarded
    (what HOST says is kept here), else what is known here. None when no host queue knows MSG_ID. An answer
    HOST reports goes to the asker here when its `ask` gave up (remote_questions.py)."""
    for q in all_queues(home):
        found = q.find(msg_id)
        if found is None:
            continue
        target = f"{found.get('session')}@{q.host}"
        base = {"id": msg_id, "session": target, "host": q.host}
        if found["state"] != "forwarded":
            at = {found["state"]: found.get("at_t")}
            out = {**base, "state": found["state"], "at": at, "via": "forward queue"}
            if found.get("reason"):
                out["reason"] = sanitize_text(str(found["reason"]))  # HOST's refusal: peer text
            if found["state"] == "queued" and q.last_error():
                out["reason"] = f"not forwarded yet: {q.last_error()}"
            return out
        remote = _ask_receipt(home, q, msg_id, found.get("session")) if ask else None
        if remote is None:
            remote = q.last_receipt(msg_id)
        remote = _from_host(remote)
        at = {"forwarded": found.get("at_t")}
        if remote and remote.get("state"):
            at.update({k: v for k, v in (remote.get("at") or {}).items() if k != "queued"})
            state = remote["state"] if remote["state"] != "queued" else "forwarded"
            out = {**base, "state": state, "at": at, "via": f"{q.host}: {remote.get('via')}"}
            if isinstance(remote.get("answer"), str):
                out["answer"] = remote["answer"]
                if state == "answered":
                    from termbridge import remote_questions

                    remote_questions.seen_answer(home, q.dir, msg_id, remote["answer"])
            if isinstance(remote.get("reason"), str) and state in ("blocked", "dead", "expired"):
                out["reason"] = f"{q.host}: {remote['reason']}"
            return out
        return {**base, "state": "forwarded", "at": at, "via": "forward queue"}
    return None


_STATE_WORD = re.compile(r"[a-z_]{1,32}")


def _from_host(r: dict | None) -> dict | None:
    """A receipt HOST reported, as peer text: its strings sanitized (whatever HOST's termbridge
    did), its `at` only state words with numbers."""
    if not isinstance(r, dict):
        return None
    out = {k: sanitize_text(v) if isinstance(v, str) else v for k, v in r.items() if k != "at"}
    at = r.get("at")
    out["at"] = {
        k: v
        for k, v in (at.items() if isinstance(at, dict) else ())
        if isinstance(k, str) and _STATE_WORD.fullmatch(k) and isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    return out


def _ask_receipt(home: StrPath, q: ForwardQueue, msg_id: str, session) -> dict | None:
    from termbridge import ssh
    from termbridge.config import load_config

    try:
        hc = ssh.host_config(q.host, load_config())
        req = [{"op": "receipt", "id": msg_id, "session": session}]
        (answer,) = ssh.rpc_call(home, hc, req, timeout=hc.connect_timeout_s + RECEIPT_BUDGET_S)
    except ssh.HostError:
        return None
    r = answer.get("receipt")
    if not answer.get("ok") or not isinstance(r, dict):
        return None
    q.note_receipt(r)
    return r
