"""What `termbridge status` reports per session."""

from __future__ import annotations

from pathlib import Path

from termbridge import registry
from termbridge.errors import StateError
from termbridge.outbox import Outbox


def last_wake(home: Path, name: str) -> str | None:
    """The outcome of the most recent wake attempt for NAME, if any."""
    from termbridge.wake import read_state

    return read_state(home, name).get("last_outcome")


def collect_status(home: Path, resolve: bool = True) -> list[dict]:
    """One dict per registered session: liveness, queue counts, target and idle state."""
    rows = []
    refused: list[tuple[str, str]] = []
    sessions = registry.all_sessions(home, refused)
    for s in sessions:
        try:
            rows.append(_row(home, s, resolve))
        except StateError as e:  # one session's unsafe state never fails the whole listing
            rows.append(_refused_row(s.name, str(e)))
    rows += [_refused_row(name, error) for name, error in refused]  # shown, never read through
    return sorted(rows, key=lambda r: r["name"])


def _row(home: Path, s, resolve: bool) -> dict:
    lv = s.liveness()
    row = {"name": s.name, "pid": s.pid, "kind": s.kind, "alive": lv == "alive", "liveness": lv}
    row.update(Outbox(home, s.name).stats())
    row["last_wake"] = last_wake(home, s.name)
    from termbridge.context import SessionContext

    b = SessionContext(home, s.name).read_backoff()
    row["failed_deliveries"] = int(b.get("failures", 0))
    row["backoff_until"] = b.get("next_at")
    row["delivery"] = s.delivery
    from termbridge import receipts, waiter

    row["receipts"] = receipts.counts(home, s.name)
    from termbridge import record

    row["record"] = record.describe(home, s) if lv == "alive" else None  # its own transcript / rollout / chat log
    row["waiter"] = waiter.live_waiter(home, s.name)
    row.update(_lane(home, s, lv, probe=resolve))
    row.update(
        _target_state(home, s)
        if resolve and lv == "alive"
        else {"backend": None, "target": None, "state": None, "surface": None, "reason": lv}
    )
    return row


def _refused_row(name: str, error: str) -> dict:
    """A session whose state directory is unsafe (symlinked, foreign-owned): its name and why."""
    return {
        "name": name,
        "pid": None,
        "kind": None,
        "alive": False,
        "liveness": "refused",
        "pending": None,
        "in_flight": None,
        "dead_letters": None,
        "last_wake": None,
        "failed_deliveries": 0,
        "backoff_until": None,
        "delivery": None,
        "lane": None,
        "lane_reason": None,
        "lane_setting": None,
        "receipts": {},
        "record": None,
        "waiter": None,
        "backend": None,
        "target": None,
        "state": None,
        "surface": None,
        "reason": error,
        "error": error,
    }


def _lane(home: Path, sess, liveness: str, probe: bool) -> dict:
    """`lane` (the lane the next message takes: native or terminal), `lane_reason` (one line when
    the native lane is unavailable or paused) and `lane_setting` (register --lane). PROBE also
    checks that Claude Code's socket takes a connection (not on top's frequent file-only reads)."""
    if liveness != "alive":
        return {"lane": None, "lane_reason": None, "lane_setting": sess.lane}
    from termbridge import lanes

    return {**lanes.choose(home, sess, probe=probe).as_dict(), "lane_setting": sess.lane}


def _target_state(home: Path, sess) -> dict:
    try:
        from termbridge import surface, targets

        tgt = targets.resolve_session(home, sess, log_failure=False)
        sf = surface.read_surface(home, sess, tgt, sample=False)
        return {
            "backend": tgt.backend,
            "target": tgt.target,
            "state": "idle" if sf.kind == "idle" else "busy",
            "surface": sf.kind,
            "reason": sf.reason,
            "tmux_socket": tgt.info.get("socket") if tgt.backend == "tmux" else None,
        }
    except Exception as e:  # noqa: BLE001 - status reports, it does not fail on one session
        return {
            "backend": None,
            "target": None,
            "state": None,
            "surface": None,
            "reason": str(e),
            "target_error": str(e),
        }
