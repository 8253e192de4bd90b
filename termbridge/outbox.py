"""The durable per-session queue; the only module that touches outbox files.

Files in the session directory (all 0600, under a 0700 directory):

  pending.log   append-only JSON lines, one record each, fsync'd before `send` exits 0
  claims/*.json records a drain has taken out of pending.log and not yet committed
  ledger.log    ids whose delivery completed (bounded), so none is delivered twice
  dead.log      dead letters: expired, unparseable, torn or too often failed
  outbox.lock   the flock that serialises every change (never deleted)

A drain is two-phase: claim (pending -> claims/, fsync) -> emit -> commit (ledger,
fsync; claim removed). A claim whose owner died is folded back into the queue by
the next access, so a drain killed at any instant loses nothing; ids already in
the ledger are dropped then, so a completed delivery is never repeated.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import time

from termbridge import events, paths, proctree
from termbridge.config import load_config
from termbridge.errors import BadInput
from termbridge.ids import new_id
from termbridge.session_files import SessionFiles

TYPE_CHECKING = False  # no `typing`, pathlib or contextlib at run time on send's hot path (kinds.py)
if TYPE_CHECKING:
    from typing import Any

    from termbridge.paths import StrPath

_SEP = (",", ":")
_ID_RE = re.compile(r"[A-Za-z0-9._:/@-]{1,128}")  # token-like, as validate.token
# A sane time: after 1970, before 2100 (gmtime and the framing can format it; 1e400 is inf).
_T_MIN, _T_MAX = 0.0, 4102444800.0
_OPTIONAL_STR = ("from", "reply_to", "key")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=_SEP).encode()


def _is_time(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and _T_MIN <= v <= _T_MAX  # NaN/inf fail


def check_record(rec: Any, session: str) -> str | None:
    """Why REC is not a valid outbox record of SESSION (None: it is valid).

    Every field must have its type: a wrongly typed one would crash a drain or `status`
    later, or make a drain die after emitting earlier messages (which then arrive again).
    A missing `session` is filled in (the file sits in SESSION's own directory); missing
    optional fields get their defaults. REC is normalised in place.
    """
    if not isinstance(rec, dict):
        return f"not a JSON object ({type(rec).__name__})"
    rid = rec.get("id")
    if not isinstance(rid, str) or not _ID_RE.fullmatch(rid):
        return "field 'id' must be a token of 1-128 of A-Z a-z 0-9 . _ : / @ -"
    sess = rec.setdefault("session", session)
    if sess != session:
        return f"field 'session' must be {session!r}" if isinstance(sess, str) else "field 'session' must be a string"
    if not isinstance(rec.get("body"), str):
        return "field 'body' must be a string"
    if not _is_time(rec.get("created_at")):
        return "field 'created_at' must be a finite time in seconds (1970-2100)"
    exp = rec.setdefault("expires_at", None)
    if exp is not None and not _is_time(exp):
        return "field 'expires_at' must be null or a finite time in seconds (1970-2100)"
    for k in _OPTIONAL_STR:
        if not isinstance(rec.setdefault(k, None), (str, type(None))):
            return f"field {k!r} must be null or a string"
    if not isinstance(rec.get("ask", False), bool):
        return "field 'ask' must be true or false"
    for k in ("attempts", "enter_presses"):
        n = rec.setdefault(k, 0) if k == "attempts" else rec.get(k, 0)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            return f"field {k!r} must be an integer >= 0"
    return None


def _deliverable(records: list[dict], now: float) -> tuple[list[dict], list[dict], list[tuple[dict, str]]]:
    """Split RECORDS (oldest first) into (deliverable, expired, [(superseded, by_id)]).

    TTL first, then last-wins: of the live records sharing a key, only the newest stays.
    """
    expired = [r for r in records if r.get("expires_at") and r["expires_at"] <= now]
    live = [r for r in records if not (r.get("expires_at") and r["expires_at"] <= now)]
    last_of_key = {r["key"]: i for i, r in enumerate(live) if r.get("key")}
    take, superseded = [], []
    for i, r in enumerate(live):
        newest = last_of_key[r["key"]] if r.get("key") else i
        if newest == i:
            take.append(r)
        else:
            superseded.append((r, live[newest]["id"]))
    return take, expired, superseded


def _sha256(data: bytes) -> str:
    import hashlib  # only for dead-lettering garbage: not on the send path

    return hashlib.sha256(data).hexdigest()


def _unique(records: list[dict]) -> list[dict]:
    """RECORDS with each id once (the first wins): a replayed move can leave a record twice."""
    seen: set[str] = set()
    out = []
    for r in records:
        if r["id"] not in seen:
            seen.add(r["id"])
            out.append(r)
    return out


class Claim:
    """Records taken out of the queue by one drain, awaiting commit or release."""

    __slots__ = ("id", "path", "records")

    def __init__(self, id: str, path: str, records: list[dict] | None = None):
        self.id, self.path, self.records = id, path, records if records is not None else []

    @property
    def ids(self) -> list[str]:
        return [r["id"] for r in self.records]


class Delivery:
    """One open delivery transaction (see Outbox.delivering): its records, and how it ends."""

    __slots__ = ("box", "claim", "settled")

    def __init__(self, box: Outbox, claim: Claim):
        self.box, self.claim, self.settled = box, claim, False

    @property
    def records(self) -> list[dict]:
        return self.claim.records

    @property
    def ids(self) -> list[str]:
        return self.claim.ids

    def commit(self, via: str) -> None:
        """The hand-over is proven (VIA: screen, hook, print, mcp...): count the records delivered."""
        # Settled first: if the commit itself fails half-way, the claim is recovered by the next
        # access (the ledger drops what was committed) rather than released now and sent twice.
        self.settled = True
        self.box.commit(self.claim, via=via)

    def release(self, reason: str, count_attempt: bool = True, enter_presses: int = 0) -> list[str]:
        """Not delivered: back at the head of the queue; returns ids dead-lettered for too many attempts
        (or Enter presses)."""
        self.settled = True
        return self.box.release(self.claim, reason, count_attempt=count_attempt, enter_presses=enter_presses)


class _Delivering:
    """Outbox.delivering's transaction (a class, not contextlib: send's start-up does not import it)."""

    __slots__ = ("box", "only", "tx")

    def __init__(self, box: Outbox, only: set[str] | list[str] | None):
        self.box, self.only = box, only
        self.tx: Delivery | None = None

    def __enter__(self) -> Delivery | None:
        claim = self.box.claim(self.only)
        if claim is not None:
            self.tx = Delivery(self.box._settler or self.box, claim)
        return self.tx

    def __exit__(self, exc_type, exc, tb) -> None:
        tx = self.tx
        if tx is not None and not tx.settled:
            tx.release("delivery interrupted" if exc_type is not None else "not delivered", count_attempt=False)


class Outbox:
    """One session's durable queue."""

    def __init__(self, home: StrPath, name: str, config: dict | None = None):
        self.home = os.fspath(home)
        self.name = name
        self.files = SessionFiles.of(home, name)
        self.dir = self.files.dir
        paths.add_root(self.home)
        self.cfg = config if config is not None else load_config()
        self.pending_path = self.files.pending
        self.claims_dir = self.files.claims
        self.ledger_path = self.files.ledger
        self.dead_path = self.files.dead
        self._lock_obj: _TimedLock | None = None
        self._pending_file: paths.KeptFile | None = None  # pending.log kept open across appends
        self._settler: Outbox | None = None  # see impatient()

    def impatient(self, seconds: float) -> Outbox:
        """This outbox for a caller that must not wait long (a hook): its reads and claims wait at
        most SECONDS for the lock, and on a timeout the messages stay queued for the next time; a
        delivery it did claim settles (commit, release) waiting as long as any drain would."""
        box = Outbox(self.home, self.name, dict(self.cfg, lock_timeout_s=seconds))
        box._settler = self
        return box

    def maybe_pending(self) -> bool:
        """A cheap look before claiming: an empty queue with no claims needs no lock (the hot path of
        most Stop hooks). True may be wrong (claim() judges); False is not."""
        try:
            if os.lstat(self.pending_path).st_size > 0:
                return True
        except FileNotFoundError:
            pass
        except OSError:
            return True  # let claim() judge (and refuse) it
        try:
            return any(not n.startswith(".") for n in os.listdir(self.claims_dir))
        except FileNotFoundError:
            return False
        except OSError:
            return True

    # ------------------------------------------------------------------ locking
    def _lock(self):
        # One StateLock per Outbox keeps its descriptor open, so an acquire is one flock
        # call. Each Outbox has its own descriptor (and a thread mutex), so two still exclude.
        if self._lock_obj is None:
            paths.ensure_dir(self.dir)
            self._lock_obj = _TimedLock(
                paths.state_lock(self.files.outbox_lock, timeout=self.cfg["lock_timeout_s"]), self
            )
        return self._lock_obj

    # ------------------------------------------------------------------ append
    def append(
        self,
        body: str,
        sender: str | None = None,
        reply_to: str | None = None,
        key: str | None = None,
        ttl: float | None = None,
        ask: bool = False,
        msg_id: str | None = None,
    ) -> dict:
        """Durably enqueue one message and return its record (fsync'd before returning).
        ASK marks a question (answers.py; its framing asks for a reply). MSG_ID: the id the caller
        made first (a question's file exists before its message; another host's forward queue
        gave it, termbridge rpc), else a new one."""
        encoded = body.encode("utf-8")  # callers validate; a lone surrogate fails here, not on disk
        if len(encoded) > self.cfg["max_body_bytes"]:
            raise BadInput(f"message body is {len(encoded)} bytes; the limit is {self.cfg['max_body_bytes']}")
        if ttl is None:
            ttl = self.cfg["default_ttl"]
        now = time.time()
        rec = {
            "id": msg_id or new_id(),
            "session": self.name,
            "from": sender,
            "reply_to": reply_to,
            "key": key,
            "body": body,
            "created_at": round(now, 6),
            "expires_at": round(now + ttl, 6) if ttl else None,
            "attempts": 0,
        }
        if ask:
            rec["ask"] = True
        line = _dumps(rec) + b"\n"
        with self._lock():
            if self._pending_file is None:
                self._pending_file = paths.KeptFile(self.pending_path)
            fd = self._pending_file.fd()  # rewrites rename a new file in under this same lock
            size = os.fstat(fd).st_size
            created = size == 0
            self._heal_tail(fd, size)
            paths.write_all(fd, line)
            paths.sync_data(fd)  # durable before the id is returned (the directory too, if new)
            if created:
                paths.fsync_dir(self.dir)  # a new (or emptied) file: make its directory entry durable too
        events.log_event(self.home, "enqueued", self.name, id=rec["id"], key=key, chars=len(body))
        return rec

    def _heal_tail(self, fd: int, size: int | None = None) -> None:
        """Quarantine bytes after the last newline (a writer died mid-append), so no two records glue."""
        if size is None:
            size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return
        cut, pos = 0, size
        while pos > 0:
            start = max(0, pos - 65536)
            i = os.pread(fd, pos - start, start).rfind(b"\n")
            if i >= 0:
                cut = start + i + 1
                break
            pos = start
        torn = os.pread(fd, size - cut, cut)
        # Dead-letter first, then truncate: the bytes are never only in memory.
        self._dead_raw([(torn, "torn record: a writer died mid-append (never acknowledged)")])
        os.ftruncate(fd, cut)
        os.fsync(fd)
        events.log_event(self.home, "torn_tail_quarantined", self.name, bytes=len(torn))

    # ------------------------------------------------------------------ parsing
    def _parse(self, data: bytes) -> tuple[list[dict], list[tuple[bytes, str]]]:
        """Valid records of DATA, and (raw line, reason) for every other non-blank line."""
        good: list[dict] = []
        bad: list[tuple[bytes, str]] = []
        name = self.name
        for line in io.BytesIO(data):  # one line at a time: no list of every line in memory
            line = line.rstrip(b"\n")
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError; deep nesting
                bad.append((line, f"unparseable record: {str(e)[:120]}"))
                continue
            why = check_record(rec, name)
            if why is None and b"\\u" in line:  # an escaped lone surrogate cannot be written back as UTF-8
                try:
                    _dumps(rec)
                except (ValueError, RecursionError):
                    why = "a string holds a lone surrogate (not UTF-8)"
            if why is not None:
                bad.append((line, f"invalid record: {why}"))
                continue
            rec["session"] = name  # one shared string instead of one per record
            good.append(rec)
        return good, bad

    def _read_pending(self, heal: bool) -> tuple[list[dict], list[tuple[bytes, str]]]:
        try:
            fd = paths.open_state(self.pending_path, os.O_RDWR if heal else os.O_RDONLY)
        except FileNotFoundError:
            return [], []
        try:
            if heal:
                self._heal_tail(fd)
            size = os.fstat(fd).st_size
            data = os.pread(fd, size, 0) if size else b""
        finally:
            os.close(fd)
        if not heal and data and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]  # a write in progress: not a record yet
        return self._parse(data)

    def _write_pending(self, records: list[dict]) -> None:
        paths.atomic_write(self.pending_path, (_dumps(r) + b"\n" for r in records))

    # ------------------------------------------------------------------ ledger
    def _ledger_ids(self) -> set[str]:
        data = paths.read_bytes(self.ledger_path)
        if not data:
            return set()
        return {i for i in data.decode("ascii", "replace").split() if _ID_RE.fullmatch(i)}  # garbage is no id

    def _ledger_add(self, ids: list[str]) -> None:
        paths.append_durable(self.ledger_path, "".join(i + "\n" for i in ids).encode())
        keep = self.cfg["ledger_size"]
        data = paths.read_bytes(self.ledger_path) or b""
        lines = data.split()
        if len(lines) > 2 * keep:
            paths.atomic_write(self.ledger_path, b"\n".join(lines[-keep:]) + b"\n")

    # ------------------------------------------------------------------ dead letters
    def _dead_lines(self) -> list[tuple[bytes, dict | None]]:
        """Every line of dead.log with its entry (None for a torn or invalid line, kept as is on rewrites)."""
        data = paths.read_bytes(self.dead_path)
        out: list[tuple[bytes, dict | None]] = []
        for line in (data or b"").split(b"\n"):
            if line.strip():
                try:
                    e = json.loads(line)
                except (ValueError, RecursionError):
                    e = None  # torn tail of dead.log itself; the next append heals it
                out.append((line, e if self._valid_dead(e) else None))
        return out

    def _valid_dead(self, e: Any) -> bool:
        if not (
            isinstance(e, dict)
            and isinstance(e.get("id"), str)
            and isinstance(e.get("reason"), str)
            and isinstance(e.get("raw", ""), str)
        ):
            return False
        rec = e.get("record")
        if rec is None:
            return True
        try:
            return check_record(rec, self.name) is None and bool(_dumps(e))
        except (ValueError, RecursionError):
            return False

    def _dead_entries(self) -> list[dict]:
        return [e for _, e in self._dead_lines() if e is not None]

    def _dead_append(self, entries: list[dict]) -> None:
        if not entries:
            return
        known = {e.get("id") for e in self._dead_entries()}
        fresh = []
        for e in entries:  # a crash may replay a move; two identical garbage lines are one dead letter
            if e["id"] not in known:
                known.add(e["id"])
                fresh.append(e)
        if not fresh:
            return
        fd = paths.open_state(self.dead_path, os.O_RDWR | os.O_APPEND, create=True)
        try:
            size = os.fstat(fd).st_size
            prefix = b"\n" if size and os.pread(fd, 1, size - 1) != b"\n" else b""
            paths.write_all(fd, prefix + b"".join(_dumps(e) + b"\n" for e in fresh))
            os.fsync(fd)
        finally:
            os.close(fd)
        for e in fresh:
            events.log_event(self.home, "dead_lettered", self.name, id=e["id"], reason=e["reason"])

    def _dead_records(self, records: list[dict], reason: str) -> None:
        now = round(time.time(), 6)
        self._dead_append([{"id": r["id"], "reason": reason, "dead_at": now, "record": r} for r in records])

    def _dead_raw(self, raws: list[tuple[bytes, str]]) -> None:
        now = round(time.time(), 6)
        self._dead_append(
            [
                {
                    "id": "raw-" + _sha256(raw)[:20],
                    "reason": reason,
                    "dead_at": now,
                    "record": None,
                    "raw": raw.decode("utf-8", "replace")[:4096],
                }
                for raw, reason in raws
            ]
        )

    # ------------------------------------------------------------------ claims
    def _claims(self) -> list[tuple[str, dict]]:
        """Every claim file as (path, {"owner_pid", "owner_start", "records", "bad"}).

        Written with atomic_write, a claim is whole -- unless the disk or a person cut or
        garbled it. Then what parses is kept and the rest is listed in "bad" (raw line,
        reason); an unreadable head line leaves the owner unknown (None), which counts as
        dead: no live drain can be proven to hold it.
        """
        names = paths.list_dir(self.claims_dir)  # a symlinked or foreign claims/ is refused
        out = []
        for n in names:
            if n.endswith(".json") and not n.startswith("."):
                data = paths.read_bytes(os.path.join(self.claims_dir, n))
                if data is None:
                    continue
                head, _, rest = data.partition(b"\n")
                try:
                    owner = json.loads(head)
                except (ValueError, RecursionError):
                    owner = None
                pid = owner.get("owner_pid") if isinstance(owner, dict) else None
                start = owner.get("owner_start") if isinstance(owner, dict) else None
                claim: dict[str, Any] = {"owner_pid": None, "owner_start": None, "records": [], "bad": []}
                if (
                    isinstance(pid, int)
                    and not isinstance(pid, bool)
                    and 0 < pid < 1 << 31
                    and isinstance(start, (str, type(None)))
                ):
                    claim["owner_pid"], claim["owner_start"] = pid, start
                elif head.strip():
                    claim["bad"].append((head, "unreadable claim header"))
                claim["records"], bad = self._parse(rest)
                claim["bad"] += [(raw, f"in a damaged claim: {why}") for raw, why in bad]
                out.append((os.path.join(self.claims_dir, n), claim))
        return out

    def _stale_claims(self, claims: list[tuple[str, dict]] | None = None) -> list[tuple[str, dict]]:
        """Claims whose drain died (their owner PID is gone or was reused, or unknown)."""
        return [
            (p, c)
            for p, c in (self._claims() if claims is None else claims)
            if c["owner_pid"] is None or not proctree.is_alive(c["owner_pid"], c["owner_start"])
        ]

    def claim(self, only: set[str] | list[str] | None = None) -> Claim | None:
        """Take every deliverable message (or those of ONLY) out of the queue into an fsync'd claim.

        None: nothing to do. With ONLY, the other deliverable messages stay queued in order.

        Under the lock: claims of dead drains are folded back, the torn tail healed,
        unparseable and expired records dead-lettered, superseded keys dropped and
        already-delivered ids skipped.
        """
        with self._lock():
            stale = self._stale_claims()
            recovered = [r for _, c in stale for r in c["records"]]
            records, bad = self._read_pending(heal=True)
            bad = [b for _, c in stale for b in c["bad"]] + bad
            if not (stale or records or bad):
                return None
            delivered = self._ledger_ids() if (stale or records) else set()
            seen: set[str] = set()
            merged: list[dict] = []
            skipped: list[str] = []
            for r in recovered + records:
                if r["id"] in seen:
                    continue
                seen.add(r["id"])
                if r["id"] in delivered:
                    skipped.append(r["id"])
                else:
                    merged.append(r)
            take, expired, superseded = _deliverable(merged, time.time())
            keep: list[dict] = []
            if only is not None:
                wanted = set(only)
                keep = [r for r in take if r["id"] not in wanted]
                take = [r for r in take if r["id"] in wanted]

            # Order matters for crash safety: dead letters, then the claim, then the rewrite.
            self._dead_raw(bad)
            for r in expired:
                self._dead_records(
                    [r], f"expired: ttl passed at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(r['expires_at']))}"
                )
            claim = None
            if take:
                claim_id = new_id()
                claim = Claim(claim_id, os.path.join(self.claims_dir, f"{claim_id}.json"), take)
                paths.ensure_dir(self.claims_dir)
                owner = os.getpid()
                # Line 1: the owner; then one record per line, streamed (no whole-file copy in memory).
                head = _dumps({"owner_pid": owner, "owner_start": proctree.start_time(owner)}) + b"\n"
                paths.atomic_write(claim.path, itertools.chain([head], (_dumps(r) + b"\n" for r in take)))
            if records or bad or keep or os.path.lexists(self.pending_path):
                self._write_pending(keep)
            for p, _ in stale:
                paths.unlink_durable(p)
        batch: list[tuple[str, dict[str, Any]]] = []
        if stale:
            batch.append(("claim_recovered", {"claims": len(stale), "records": len(recovered)}))
        batch += [("duplicate_skipped", {"id": i}) for i in skipped]
        batch += [("superseded", {"id": r["id"], "by": by, "key": r["key"]}) for r, by in superseded]
        events.log_events(self.home, self.name, batch)
        return claim

    def delivering(self, only: set[str] | list[str] | None = None) -> _Delivering:
        """One delivery transaction: `with box.delivering() as d:` claims (d is None when there is
        nothing to deliver), runs the body, settles.

        The body commits (`d.commit(via)`) once the hand-over is proven, or releases with its
        reason; a transaction left open, or any exception, releases the records untouched
        (no attempt counted), so nothing is ever lost. Every drain path and hook uses it.
        """
        return _Delivering(self, only)

    def commit(self, claim: Claim, via: str = "drain") -> None:
        """Record CLAIM's ids as delivered (fsync'd ledger and `submitted` receipts) and drop the claim.

        VIA says how the hand-over was proven: "screen", "hook", "print", "mcp"...
        """
        with self._lock():
            self._ledger_add(claim.ids)
            from termbridge import receipts_log  # not on send's path

            receipts_log.record(self.home, self.name, claim.records, "submitted", via)
            paths.unlink_durable(claim.path)
        events.log_events(self.home, self.name, [("delivered", {"id": i}) for i in claim.ids])

    def release(self, claim: Claim, reason: str, count_attempt: bool = True, enter_presses: int = 0) -> list[str]:
        """Put CLAIM's records back at the head of the queue; returns ids dead-lettered for too many
        attempts, or for max_enter_presses Enter presses that the agent never accepted."""
        limit = self.cfg["dead_letter_attempts"]
        max_enter = self.cfg.get("max_enter_presses", 4)
        with self._lock():
            back: list[dict] = []
            dead: list[dict] = []
            no_enter: list[dict] = []
            for r in claim.records:
                r = dict(r, attempts=int(r.get("attempts", 0)) + (1 if count_attempt else 0), last_error=reason)
                if enter_presses:
                    r["enter_presses"] = int(r.get("enter_presses") or 0) + enter_presses
                if r["attempts"] >= limit:
                    dead.append(r)
                elif enter_presses and r["enter_presses"] >= max_enter:
                    no_enter.append(r)
                else:
                    back.append(r)
            self._dead_records(dead, f"delivery failed {limit} times; last: {reason}")
            self._dead_records(no_enter, f"the agent never accepted Enter ({max_enter} presses)")
            dead += no_enter
            if back:
                current, bad = self._read_pending(heal=True)
                self._dead_raw(bad)
                ids = {r["id"] for r in back}
                self._write_pending(back + [r for r in current if r["id"] not in ids])
            paths.unlink_durable(claim.path)
        events.log_event(self.home, "released", self.name, ids=claim.ids, reason=reason)
        return [r["id"] for r in dead]

    # ------------------------------------------------------------------ reading
    def pending_records(self, recovered: list[dict] | None = None) -> list[dict]:
        """Deliverable messages right now (after last-wins and TTL, each id once), oldest first;
        read-only. RECOVERED: records of dead drains' claims, which a claim would fold back first."""
        records, _ = self._read_pending(heal=False)
        return _deliverable(_unique((recovered or []) + records), time.time())[0]

    def stats(self) -> dict:
        """Counts for status: pending (with what dead drains held), in_flight, dead_letters."""
        claims = self._claims()
        stale = {p for p, _ in self._stale_claims(claims)}
        in_flight = sum(len(c["records"]) for p, c in claims if p not in stale)
        orphaned = [r for p, c in claims if p in stale for r in c["records"]]
        return {
            "pending": len(self.pending_records(orphaned)),
            "in_flight": in_flight,
            "dead_letters": len(self._dead_entries()),
        }

    def queued_records(self) -> list[dict]:
        """Every record still waiting (pending or claimed by a drain), read-only: for receipts."""
        records, _ = self._read_pending(heal=False)
        return records + [r for _, c in self._claims() for r in c["records"]]

    def in_flight_ids(self) -> set[str]:
        """Ids held by live drains right now (typed or handed over, not yet settled)."""
        claims = self._claims()
        stale = {p for p, _ in self._stale_claims(claims)}
        return {r["id"] for p, c in claims if p not in stale for r in c["records"]}

    def delivered_ids(self) -> set[str]:
        """The ids whose delivery completed (the bounded ledger)."""
        return self._ledger_ids()

    def holds(self, msg_id: str) -> bool:
        """Whether MSG_ID is this queue's already: waiting, delivered (the bounded ledger) or dead-lettered."""
        if any(r.get("id") == msg_id for r in self.queued_records()) or msg_id in self.delivered_ids():
            return True
        return any(e.get("id") == msg_id for e in self.dead_letters())

    def has_pending(self) -> bool:
        """Whether anything is waiting (including claims of drains that died)."""
        return self.stats()["pending"] > 0

    def dead_letters(self) -> list[dict]:
        return self._dead_entries()

    def retry_dead(self, ids: list[str] | None) -> list[str]:
        """Move dead letters (IDS, or all when None) back to the queue; returns the ids moved."""
        with self._lock():
            entries = self._dead_entries()
            by_id = {e["id"]: e for e in entries}
            if ids is not None:
                for i in ids:
                    if i not in by_id:
                        raise BadInput(f"no dead letter {i!r} for session {self.name!r}")
                    if not by_id[i].get("record"):
                        raise BadInput(f"dead letter {i!r} is an unparseable record: nothing to retry")
                chosen = [by_id[i] for i in ids]
            else:
                chosen = [e for e in entries if e.get("record")]
            if not chosen:
                return []
            current, bad = self._read_pending(heal=True)
            self._dead_raw(bad)
            have = {r["id"] for r in current}
            revived = [dict(e["record"], attempts=0, expires_at=None) for e in chosen if e["record"]["id"] not in have]
            self._write_pending(current + revived)  # queue first: a crash here duplicates, never loses
            moved = {e["id"] for e in chosen}
            keep = [
                line for line, e in self._dead_lines() if e is None or e["id"] not in moved
            ]  # unreadable lines stay
            paths.atomic_write(self.dead_path, (line + b"\n" for line in keep))
        events.log_events(self.home, self.name, [("dead_letter_retried", {"id": i}) for i in moved])
        return sorted(moved)


class _TimedLock:
    """The outbox lock, logging a `lock_wait` event when another holder made us wait."""

    def __init__(self, lock: paths.StateLock, box: Outbox):
        self.lock, self.box = lock, box

    def __enter__(self):
        self.lock.acquire()
        if self.lock.waited is not None:
            events.log_event(self.box.home, "lock_wait", self.box.name, waited_ms=round(self.lock.waited * 1000, 1))
        return self

    def __exit__(self, *exc):
        self.lock.release()
        return False
