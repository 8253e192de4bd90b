"""Lanes: how a message gets into an agent. The terminal lane types it (submit.py, under the
surface rules); a native lane hands it to the agent's own channel into its running session,
never touching the composer:

  claude  Claude Code's messaging socket (claude_socket.py)
  codex   `codex queue` into the session's thread, only while its TUI is attached (codex_queue.py)

A session's `lane` (register --lane): `auto` (the default) takes the native lane when the
channel is found for that very PID and answers, else the terminal lane; `native` asks for it
(refused at register for a kind with no channel); `terminal` always types. A channel that is
missing, refuses, changed shape, or (Codex) is paused is one line in `status` and a fallback to
the terminal lane under its usual rules -- one lane per message, never both.
"""

from __future__ import annotations

from termbridge.errors import NativeUnconfirmed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

NATIVE_KINDS = ("claude", "codex")  # the agents with a channel of their own


class Choice:
    """The lane the next message of a session takes: 'native' or 'terminal', why, and the channel."""

    __slots__ = ("lane", "reason", "channel")

    def __init__(self, lane: str, reason: str = "", channel=None):
        self.lane, self.reason, self.channel = lane, reason, channel

    def as_dict(self) -> dict:
        return {"lane": self.lane, "lane_reason": self.reason or None}


def wanted(sess) -> bool:
    """SESS may go by a native lane at all (its lane setting and kind allow one)."""
    return sess.lane != "terminal" and sess.kind in NATIVE_KINDS and not sess.nudge_only()


def no_channel_reason(kind: str) -> str:
    return f"{kind} has no channel of its own into a running session: the terminal lane is its only way in"


def choose(home: StrPath, sess, probe: bool = False) -> Choice:
    """Where SESS's next message goes. PROBE (status, doctor) also checks that Claude's socket
    takes a connection; a delivery finds that out by sending."""
    if sess.lane == "terminal":
        return Choice("terminal", "register --lane terminal")
    if sess.kind not in NATIVE_KINDS:
        return Choice("terminal", no_channel_reason(sess.kind) if sess.kind == "gemini" else "")
    if sess.nudge_only():
        return Choice("terminal", "a pull session: it fetches its messages (MCP inbox or drain --print)")
    try:
        if sess.kind == "claude":
            return _claude(sess, probe)
        return _codex(home, sess)
    except OSError as e:  # /proc or the agent's files went away under us
        return Choice("terminal", f"native lane unavailable: {e.strerror or e}")


def _claude(sess, probe: bool) -> Choice:
    from termbridge.lanes import claude_socket

    ch, why = claude_socket.find(sess.pid)
    if ch is None:
        return Choice("terminal", f"native lane unavailable: {why}")
    if probe:
        gone = claude_socket.answers(ch)
        if gone:
            return Choice("terminal", f"native lane unavailable: {gone}")
    return Choice("native", "", ch)


def _codex(home: StrPath, sess) -> Choice:
    from termbridge import record
    from termbridge.lanes import codex_queue

    ch, why = codex_queue.find(sess.pid, record.bound(home, sess))
    if ch is None:
        return Choice("terminal", f"native lane unavailable: {why}")
    pause = codex_queue.paused(ch.rollout)
    if pause:
        return Choice("terminal", f"native lane paused: {pause}")
    return Choice("native", "", ch)


def deliver(home: StrPath, sess, box, cfg: dict) -> int | None:
    """Deliver SESS's pending messages by its native lane: the count delivered, or None when they
    are to go by the terminal lane (no channel, or it refused: nothing reached the agent).

    The same transaction as a typed delivery: claimed from the durable queue, framed the same,
    committed `submitted` (via `native:<kind>`) only once the channel took them; released
    untouched when it refused. When the channel took every byte but never confirmed, they are
    released (the attempt counted) and NativeUnconfirmed is raised: the next delivery first looks for
    them in the session's own record, so they are not sent twice by either lane.
    """
    from termbridge import events, framing

    if not wanted(sess):
        return None
    choice = choose(home, sess)
    if choice.channel is None:
        if choice.reason:
            events.log_event(home, "lane_fallback", sess.name, reason=choice.reason[:200])
        return None
    with box.delivering() as d:
        if d is None:
            return 0
        text = framing.render_messages(d.records)
        outcome, detail = _send(sess, choice.channel, text, d.records)
        if outcome == "refused":
            d.release(f"native lane refused: {detail}", count_attempt=False)
            events.log_event(home, "lane_fallback", sess.name, reason=f"native lane refused: {detail}"[:200])
            return None
        if outcome == "unsure":
            dead = d.release(f"native lane unconfirmed: {detail}")
            events.log_event(home, "delivery_failed", sess.name, lane="native", error=detail, dead_lettered=dead)
            raise NativeUnconfirmed(
                f"{sess.name}: its own channel took the message but never confirmed ({detail}); "
                "it stays queued, and the next delivery first looks for it in the session's own record"
            )
        d.commit(f"native:{sess.kind}")
        count = len(d.records)
    events.log_event(
        home, "submit", sess.name, lane="native", channel=_channel_name(sess.kind), chars=len(text), messages=count
    )
    return count


def _channel_name(kind: str) -> str:
    return {"claude": "messaging socket", "codex": "codex queue"}[kind]


def _send(sess, channel, text: str, records: list[dict]) -> tuple[str, str]:
    """('sent'|'refused'|'unsure', detail) for one hand-over to CHANNEL."""
    if sess.kind == "claude":
        from termbridge.lanes import claude_socket

        try:  # the senders are named in the framed text only (peer text is never a field of its own)
            claude_socket.send(channel, text, sender="termbridge", msg_id=records[0]["id"])
        except claude_socket.Refused as e:
            return "refused", str(e)
        except claude_socket.Unsure as e:
            return "unsure", str(e)
        return "sent", ""
    from termbridge.lanes import codex_queue

    try:
        return "sent", codex_queue.send(channel, text)
    except codex_queue.Refused as e:
        return "refused", str(e)
    except codex_queue.Unsure as e:
        return "unsure", str(e)
