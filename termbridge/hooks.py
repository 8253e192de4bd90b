"""Agent hook entry points: thin adapters between each agent's hook protocol and termbridge.

They never raise and never fail the agent: malformed input, an unknown session or a
bad config is logged as a `hook_error` event, nothing is printed that the agent would
take as a decision, and the command exits 0.

Protocols (input JSON on stdin, output JSON on stdout; exit 0):

  event          claude              codex               gemini
  session-start  SessionStart        SessionStart        SessionStart
  prompt-submit  UserPromptSubmit    UserPromptSubmit    BeforeAgent
  stop           Stop                Stop                AfterAgent

  stop, with messages handed over:
    claude, codex  {"decision": "block", "reason": TEXT}  -- the turn goes on with TEXT
    gemini         {"decision": "deny", "reason": TEXT}   -- AfterAgent "deny" rejects the
                   final answer and sends TEXT to the model as a new prompt (Gemini CLI
                   hooks reference, AfterAgent; "block" is an alias of "deny")
  otherwise: claude and codex get nothing on stdout (their "carry on"); gemini gets `{}`
  (its hooks must print only JSON on stdout).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from contextlib import nullcontext

from termbridge import agents, events, framing, paths, registry
from termbridge.config import DEFAULTS
from termbridge.kinds import AGENT_KINDS
from termbridge.session_files import SessionFiles

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

AGENTS = AGENT_KINDS  # the agents with hooks: kinds.py's one tuple
EVENTS = ("session-start", "prompt-submit", "stop")
# Each agent's name for each termbridge hook event (what `hooks install` writes).
AGENT_EVENTS = {
    "claude": {"session-start": "SessionStart", "prompt-submit": "UserPromptSubmit", "stop": "Stop"},
    "codex": {"session-start": "SessionStart", "prompt-submit": "UserPromptSubmit", "stop": "Stop"},
    "gemini": {"session-start": "SessionStart", "prompt-submit": "BeforeAgent", "stop": "AfterAgent"},
}
_BLOCK = {"claude": "block", "codex": "block", "gemini": "deny"}
_QUIET = {"claude": "", "codex": "", "gemini": "{}"}

# A framed message line (framing.iter_lines): "--- message <ID> from <sender> (reply_to: …) at …"
_FRAMED_ID = re.compile(r"^--- message ([0-9A-HJKMNP-TV-Z]{26}) from ", re.M)
_HEADER_START = framing.HEADER.split("{n}")[0]  # "[termbridge] "
_HEADER_MARK = " peer message"
_HOOK_LOCK_S = 0.15  # a hook never waits long on a lock: what it would do waits for the next hook


def _budget_path(home: StrPath, name: str) -> str:
    return SessionFiles.of(home, name).stop_hook


def _blocks(home: StrPath, name: str) -> int:
    state = paths.read_json(_budget_path(home, name), {})
    try:
        return max(0, int(state.get("consecutive_blocks", 0)))
    except (ValueError, AttributeError, TypeError, OverflowError):  # a damaged budget (1e999 is inf)
        return 0


def _set_blocks(home: StrPath, name: str, n: int) -> None:
    paths.atomic_write(_budget_path(home, name), json.dumps({"consecutive_blocks": n}).encode())


def session_name(session: str | None, agent: str, env: Mapping[str, str] | None = None) -> str:
    """The session a hook acts for: --session, else $TERMBRIDGE_SESSION, else the agent kind."""
    env = os.environ if env is None else env
    return session or env.get("TERMBRIDGE_SESSION") or agent


# ---------------------------------------------------------------- the agent's own process
def _chain() -> list[int]:
    """This hook's ancestors, itself excluded."""
    from termbridge import proctree

    return proctree.ancestor_chain(os.getpid())[1:]


def _agent_in(chain: list[int], agent: str, data: dict | None = None, home: StrPath | None = None) -> int | None:
    pid = next((pid for pid in chain if pid > 1 and agents.is_agent(pid, agent)), None)
    if pid is not None and data is not None and agent == "codex" and agents.is_codex_daemon(pid):
        return agents.codex_tui(pid, data, _bound(home)) or pid  # daemon mode: the TUI that runs this thread
    return pid


def _own_agent(home: StrPath, sess: registry.Session, chain: list[int], agent: str, data: dict) -> bool:
    """The hook runs for SESS's own agent process: it is among the hook's ancestors, or (Codex's
    daemon mode, whose hooks run under the daemon) it is the verified TUI of the hook's thread."""
    return sess.pid in chain or _agent_in(chain, agent, data, home) == sess.pid


def _bound(home: StrPath | None) -> Callable[[int], str | None] | None:
    """pid -> the record a SessionStart bound to that Codex TUI's session (its own TERMBRIDGE_SESSION)."""
    from termbridge import proctree

    def record(pid: int) -> str | None:
        name = session_name(None, "codex", proctree.environ(pid))
        try:
            if home is None or registry.lookup(home, name).pid != pid:
                return None
        except Exception:  # noqa: BLE001 - no such session (or unsafe): nothing bound
            return None
        from termbridge import record

        return record.describe(home, registry.lookup(home, name))

    return record


def _require_own(home: StrPath, hook: str, agent: str, name: str, data: dict) -> registry.Session:
    """The registered session NAME, if this hook runs for its process; else log and _Skip.

    The hook acts for NAME when the registered PID is among the hook's ancestors (the agent
    itself, or what launched it). When the hook's own agent is another process, NAME belongs
    to someone else: acting would hand that agent's messages to this one. A hook with no
    agent among its ancestors (run by hand) acts for the name it was given.
    """
    sess = registry.lookup(home, name)
    chain = _chain()
    if sess.pid in chain:
        return sess
    mine = _agent_in(chain, agent, data, home)
    if mine is not None and mine != sess.pid:
        events.log_event(
            home,
            "hook_error",
            name,
            hook=hook,
            error=(
                f"session {name!r} is registered to pid {sess.pid}, not to this {agent} (pid {mine}); "
                f"nothing done: set TERMBRIDGE_SESSION to this agent's own session name"
            ),
        )
        raise _Skip
    return sess


# ---------------------------------------------------------------- helpers
class _Skip(Exception):
    """Nothing to do for this hook call (already logged)."""


def _load(home: StrPath, hook: str, name: str | None, stdin: bytes) -> dict:
    try:
        data = json.loads(stdin.decode("utf-8") or "null")
    except ValueError as e:
        events.log_event(home, "hook_error", name, hook=hook, error=f"malformed hook JSON: {e}")
        raise _Skip from None
    if not isinstance(data, dict):
        events.log_event(home, "hook_error", name, hook=hook, error="hook input is not a JSON object")
        raise _Skip
    return data


def _config(home: StrPath, hook: str, name: str) -> dict:
    from termbridge.config import load_config

    try:
        return load_config()
    except Exception as e:  # noqa: BLE001 - a bad config must not break the agent: use the defaults
        events.log_event(home, "hook_error", name, hook=hook, error=f"config: {e}")
        return dict(DEFAULTS)


def run_hook(
    home: StrPath,
    event: str,
    agent: str,
    session: str | None,
    stdin: bytes,
    write: Callable[[str], None],
    env: Mapping[str, str] | None = None,
) -> None:
    """Run hook EVENT for AGENT on the hook JSON STDIN, writing the agent's answer with WRITE. Never raises."""
    hook = f"{event}:{agent}"
    name: str | None = None
    quiet = _QUIET.get(agent, "")
    wrote = []

    def emit(text: str) -> None:
        wrote.append(text)
        write(text)

    try:
        if agent not in AGENTS:
            events.log_event(
                home, "hook_error", None, hook=hook, error=f"unknown --agent {agent!r}: one of {', '.join(AGENTS)}"
            )
            return
        if event not in EVENTS:
            events.log_event(
                home, "hook_error", None, hook=hook, error=f"unknown hook {event!r}: one of {', '.join(EVENTS)}"
            )
            if quiet:
                emit(quiet + "\n")
            return
        name = session_name(session, agent, env)
        data = _load(home, hook, name, stdin)
        if agent == "codex" and (tui_env := agents.codex_tui_environ(data, _bound(home))):
            env = tui_env  # Codex's daemon mode: the hook inherits the daemon's environment, not its TUI's
            name = session_name(session, agent, env)
        paths.validate_name(name)
        if event == "session-start":
            _session_start(home, agent, name, data, env)
        elif event == "prompt-submit":
            _prompt_submit(home, agent, name, data)
        else:
            _stop(home, agent, name, data, emit)
    except _Skip:
        pass
    except Exception as e:  # noqa: BLE001 - never break the agent: log and carry on
        try:
            events.log_event(home, "hook_error", name, hook=hook, error=f"{type(e).__name__}: {e}")
        except Exception:  # noqa: BLE001 - not even a broken state dir may fail the agent
            pass
    try:
        if quiet and not wrote:  # exactly one JSON answer, or none
            write(quiet + "\n")
    except Exception:  # noqa: BLE001 - the agent closed our stdout: nothing to tell it
        pass


def claude_stop(home: StrPath, session: str | None, stdin: bytes, write: Callable[[str], None]) -> None:
    """Claude Code's Stop hook (`hook claude-stop`, an alias of `hook stop --agent claude`)."""
    run_hook(home, "stop", "claude", session, stdin, write)


# ---------------------------------------------------------------- session-start
def _session_start(home: StrPath, agent: str, name: str, data: dict, env: Mapping[str, str] | None) -> None:
    from termbridge.backends.kitty import address
    from termbridge.errors import NameHeld
    from termbridge.tmux_cmd import socket_path

    env = os.environ if env is None else env
    chain = _chain()
    pid = _agent_in(chain, agent, data, home)
    if pid is None or agents.is_codex_daemon(pid):
        events.log_event(
            home,
            "hook_error",
            name,
            hook=f"session-start:{agent}",
            error=f"no {agent} process among the hook's ancestors (nor one Codex TUI of its thread); not registered",
        )
        return
    try:
        sess = registry.register_agent(
            home,
            name,
            pid,
            agent,
            "hook",
            mine=set(chain),
            lock_timeout=_HOOK_LOCK_S,  # a hook never waits long
            tmux_socket=socket_path(env),
            kitty_socket=address(env),
        )
    except NameHeld as e:
        # Another live agent holds the name (two Claude Code windows both default to
        # `claude`): taking it over would hand its messages to this one.
        events.log_event(
            home,
            "hook_error",
            name,
            hook=f"session-start:{agent}",
            error=f"{e}; this {agent} (pid {pid}) did not take it over: set TERMBRIDGE_SESSION to another name",
        )
        return
    _set_blocks(home, name, 0)
    from termbridge import record

    record.bind_from_hook(home, sess, agent, data)  # its own record, reported by its own hook
    events.log_event(
        home,
        "registered",
        name,
        pid=pid,
        kind=agent,
        delivery=sess.delivery,
        via=f"hook:{agent}",
        tmux_socket=sess.tmux_socket,
        kitty_socket=sess.kitty_socket,
    )


# ---------------------------------------------------------------- prompt-submit
def prompt_ids(prompt: str, known: set[str]) -> list[str]:
    """termbridge message ids in PROMPT: the framed `--- message ID from` lines whose id is in KNOWN.
    A bare id (typed, pasted, quoted) proves nothing: only the framed message itself does."""
    return list(dict.fromkeys(m for m in _FRAMED_ID.findall(prompt) if m in known))


def _prompt_submit(home: StrPath, agent: str, name: str, data: dict) -> None:
    from termbridge import receipts_log, record, surface
    from termbridge.idle import set_mark
    from termbridge.outbox import Outbox

    sess = _require_own(home, f"prompt-submit:{agent}", agent, name, data)
    set_mark(home, name, "busy")
    prompt = data.get("prompt")
    prompt = prompt if isinstance(prompt, str) else ""
    if not (prompt.startswith(_HEADER_START) and _HEADER_MARK in prompt.split("\n", 1)[0]):
        _set_blocks(home, name, 0)  # a person's prompt is a fresh turn: the Stop budget starts over
    if not _own_agent(home, sess, _chain(), agent, data):
        return  # run by hand, or by another process: its input is no evidence of this session's
    record.bind_from_hook(home, sess, agent, data)
    from termbridge import answers

    if not _FRAMED_ID.search(prompt):
        answers.join_turn(
            home, name, [], new_turn=True, turn=answers.turn_key(data)
        )  # a person's turn answers no earlier question
        return
    # Evidence only for what termbridge submitted or handed over to this session: delivered,
    # in flight, or the text it typed. A queued, expired or dead message never becomes `received`.
    box = Outbox(home, name, _config(home, f"prompt-submit:{agent}", name))
    typed = surface.read_typed(home, name) or {}
    known = box.delivered_ids() | box.in_flight_ids() | {i for i in typed.get("ids") or [] if isinstance(i, str)}
    ids = prompt_ids(prompt, known)
    if ids:
        receipts_log.record(home, name, ids, "received", via=f"hook:{agent}")
        events.log_event(home, "received", name, ids=ids, via=f"hook:{agent}")
    answers.join_turn(home, name, ids, new_turn=True, turn=answers.turn_key(data))  # its end answers them


# ---------------------------------------------------------------- stop
def _pick(box, cap: int) -> list[str]:
    """The ids one Stop hands over: the oldest deliverable messages whose framed text fits in CAP
    bytes, at least one; the rest stay queued for the next Stop."""
    records = box.pending_records()
    if not records:
        box.claim(only=[])  # fold back what dead drains held (it takes nothing), then look again
        records = box.pending_records()
    chosen: list[dict] = []
    for r in records:
        if chosen and len(framing.render_messages(chosen + [r]).encode("utf-8", "replace")) > cap:
            break
        chosen.append(r)
    return [r["id"] for r in chosen]


# Gemini CLI runs AfterAgent on an interrupt (Esc) too, with this as the response; a hand-over
# returned then goes into the cancelled turn and never reaches the model (measured, 0.61). No
# hand-over then: the idle waiter delivers once the agent shows its empty composer.
_GEMINI_NO_RESPONSE = "[no response text]"


def _interrupted(agent: str, data: dict) -> bool:
    """The turn that ended was interrupted (as far as its hook input tells)."""
    return agent == "gemini" and data.get("prompt_response") == _GEMINI_NO_RESPONSE


def _stop(home: StrPath, agent: str, name: str, data: dict, write: Callable[[str], None]) -> bool:
    """Hand pending messages over while the block budget lasts; True if a decision was written.

    The consecutive-block budget is durable per session and resets when
    stop_hook_active is false (a fresh user turn); an absent or malformed flag counts
    as true, so a confused hook can never loop forever.
    """
    from termbridge.context import SessionContext
    from termbridge.idle import set_mark

    sess = _require_own(home, f"stop:{agent}", agent, name, data)
    cfg = _config(home, f"stop:{agent}", name)
    ctx = SessionContext(home, name, cfg, sess)
    own = _own_agent(home, sess, _chain(), agent, data)
    if own:
        from termbridge import answers, record

        record.bind_from_hook(home, sess, agent, data)
        try:
            answers.end_turn(home, name, agent, data)  # the turn's questions get its final message
        except Exception as e:  # noqa: BLE001 - logged; the hand-over below still runs
            events.log_event(home, "hook_error", name, hook=f"stop:{agent}", error=f"answers: {e}"[:200])
    budget = cfg["block_budget"]
    fresh_turn = data.get("stop_hook_active") is False  # absent or malformed counts as true (fail safe)
    blocks = 0 if fresh_turn else _blocks(home, name)
    # A hook never waits long for the outbox lock: on a timeout the messages stay queued for
    # the next Stop (logged as a hook_error by run_hook).
    box = ctx.outbox.impatient(_HOOK_LOCK_S)
    only = None
    interrupted = _interrupted(agent, data)
    if blocks < budget and not interrupted and box.maybe_pending():
        from termbridge.delivery import settle_received

        settle_received(ctx, box)  # what the agent already received is never handed over again
        only = _pick(box, cfg["max_body_bytes"]) or None
    # One transaction: the messages count as delivered only once the decision is written, and
    # are released (back at the head of the queue) on any failure before that.
    with box.delivering(only) if only else nullcontext() as d:
        if d is None:
            if fresh_turn:
                _set_blocks(home, name, 0)
            set_mark(home, name, "idle")
            events.log_event(
                home,
                "hook_stop",
                name,
                agent=agent,
                blocked=False,
                consecutive_blocks=blocks,
                budget_spent=blocks >= budget,
                **({"interrupted": True} if interrupted else {}),
            )
            return False
        out = json.dumps({"decision": _BLOCK[agent], "reason": framing.render_messages(d.records)}, ensure_ascii=False)
        write(out + "\n")
        d.commit("hook")
        handed = len(d.records)
        if own and any(r.get("ask") for r in d.records):  # by hand: handed to whoever ran it, not the agent
            from termbridge import answers

            asks = [r["id"] for r in d.records if r.get("ask")]
            answers.join_turn(home, name, asks, turn=answers.turn_key(data))  # the turn goes on
    _set_blocks(home, name, blocks + 1)
    set_mark(home, name, "busy")  # the agent goes on working on the delivered messages
    events.log_event(home, "hook_stop", name, agent=agent, blocked=True, messages=handed, consecutive_blocks=blocks + 1)
    return True
