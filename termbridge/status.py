"""What `termbridge status` reports per session."""

from __future__ import annotations

from termbridge import registry
from termbridge.errors import StateError
from termbridge.outbox import Outbox

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath


def last_wake(home: StrPath, name: str) -> str | None:
    """The outcome of the most recent wake attempt for NAME, if any."""
    from termbridge.wake import read_state

    return read_state(home, name).get("last_outcome")


def collect_status(home: StrPath, resolve: bool = True) -> list[dict]:
    """One dict per registered session: liveness, queue counts, target and idle state."""
    rows = []
    refused: list[tuple[str, str]] = []
    sessions = registry.all_sessions(home, refused)
    seen = _Screens(home, sessions) if resolve else None
    for s in sessions:
        try:
            rows.append(_row(home, s, seen))
        except StateError as e:  # one session's unsafe state never fails the whole listing
            rows.append(_refused_row(s.name, str(e)))
    rows += [_refused_row(name, error) for name, error in refused]  # shown, never read through
    return sorted(rows, key=lambda r: r["name"])


class _Screens:
    """Every live session's target and screen, found before the rows are made: one HostIndex for
    all (one `list-panes` per tmux server, however many sessions it hosts) and one tmux process
    reading the screens of all of a server's sessions."""

    def __init__(self, home: StrPath, sessions: list):
        from termbridge import targets, tmux_panes
        from termbridge.errors import TmuxError

        self.index = targets.HostIndex(home)
        self.found: dict[str, object] = {}  # name -> Target, or the exception resolving it raised
        self.screens: dict[tuple[str, str], object] = {}  # (socket, pane) -> Screen
        by_server: dict[str, list[str]] = {}
        for s in sessions:
            if not s.alive():
                continue
            try:
                tgt = targets.resolve_session(home, s, log_failure=False, index=self.index)
            except Exception as e:  # noqa: BLE001 - status reports, it does not fail on one session
                self.found[s.name] = e
                continue
            self.found[s.name] = tgt
            if tgt.backend == "tmux" and tgt.info.get("socket"):
                by_server.setdefault(tgt.info["socket"], []).append(tgt.info["pane"])
        for sock, panes in by_server.items():
            try:
                got = tmux_panes.screens(sock, sorted(set(panes)))
            except TmuxError:
                continue  # a pane went meanwhile: those sessions read their own screens
            self.screens.update(((sock, p), scr) for p, scr in got.items())

    def target(self, sess):
        """SESS's target and its screen when read already (else None); raises what resolving raised."""
        from termbridge import targets

        tgt = self.found.get(sess.name)
        if tgt is None:  # alive since the first look
            return targets.resolve_session(self.index.home, sess, log_failure=False, index=self.index), None
        if isinstance(tgt, Exception):
            raise tgt
        return tgt, self.screens.get((tgt.info.get("socket"), tgt.info.get("pane")))


def _row(home: StrPath, s, seen: _Screens | None) -> dict:
    resolve = seen is not None
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
        _target_state(home, s, seen)
        if seen is not None and lv == "alive"
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


def _lane(home: StrPath, sess, liveness: str, probe: bool) -> dict:
    """`lane` (the lane the next message takes: native or terminal), `lane_reason` (one line when
    the native lane is unavailable or paused) and `lane_setting` (register --lane). PROBE also
    checks that Claude Code's socket takes a connection (not on top's frequent file-only reads)."""
    if liveness != "alive":
        return {"lane": None, "lane_reason": None, "lane_setting": sess.lane}
    from termbridge import lanes

    return {**lanes.choose(home, sess, probe=probe).as_dict(), "lane_setting": sess.lane}


def _target_state(home: StrPath, sess, seen: _Screens) -> dict:
    try:
        from termbridge import surface

        tgt, screen = seen.target(sess)
        sf = surface.read_surface(home, sess, tgt, sample=False, screen=screen)
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
