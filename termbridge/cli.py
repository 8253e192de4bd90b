"""The command line: parse, call one library function, map errors to exit codes.

Imports of anything heavier than click happen inside the command that needs them:
`send` and the hooks run on agents' hot paths.
"""

from __future__ import annotations

import json
import os
import sys

import click

from termbridge.errors import TermbridgeError
from termbridge.kinds import AGENT_KINDS, DELIVERY_MODES, KINDS, LANES


def _home():
    from termbridge import paths

    return paths.state_home()


def _out_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


class _Group(click.Group):
    """Turns library errors into one stderr line and the exit code docs/commands.md gives."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TermbridgeError as e:
            click.echo(f"termbridge: {e}", err=True)
            ctx.exit(e.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away (e.g. `| head`); nothing more to say
            ctx.exit(1)
        except Exception as e:  # noqa: BLE001 - one line, not a traceback, at the boundary
            if os.environ.get("TERMBRIDGE_DEBUG"):
                raise
            click.echo(f"termbridge: error: {type(e).__name__}: {e}", err=True)
            ctx.exit(1)


def json_option(help: str | None = None):
    """`--json` (into the parameter `json_`): the one declaration every command shares."""
    return click.option("json_", "--json", is_flag=True, help=help)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="termbridge", message="termbridge %(version)s")
@click.pass_context
def cli(ctx):
    """Get messages into AI coding agents' terminals reliably."""
    # A malformed config is bad input for every command (exit 2, naming the key) --
    # except agent hooks, which must never fail the agent that calls them, and doctor,
    # which reports it as one of its checks.
    if ctx.invoked_subcommand not in ("hook", "doctor") and not {"-h", "--help"} & set(sys.argv[2:]):
        from termbridge.config import load_config

        load_config()


# ---------------------------------------------------------------- registry
@cli.command()
@click.argument("name")
@click.option("--pid", type=int, required=True, help="The agent's process id.")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    help="The agent's kind (default: read from the process: an agent, a shell, else other).",
)
@click.option(
    "--delivery",
    type=click.Choice(DELIVERY_MODES),
    default="push",
    show_default=True,
    help="push: pending messages are typed into the idle composer; pull: only the wake nudge is.",
)
@click.option(
    "--lane",
    type=click.Choice(LANES),
    default="auto",
    show_default=True,
    help="auto: the agent's own channel (Claude Code's socket, codex queue) when it answers, else typing; "
    "native: that channel (a kind without one is refused); terminal: always typed.",
)
@json_option("Print the record as JSON.")
def register(name, pid, kind, delivery, lane, json_):
    """Record a session NAME -> PID (re-register replaces)."""
    from termbridge import registry
    from termbridge.events import log_event

    if kind is None:
        from termbridge import agents

        kind = agents.detect_kind(pid)
    if lane == "native":
        from termbridge import lanes
        from termbridge.errors import BadInput

        if kind not in lanes.NATIVE_KINDS:
            raise BadInput(f"--lane native: {lanes.no_channel_reason(kind)}")
    sess = registry.register(_home(), name, pid, kind, delivery, lane=lane)
    log_event(_home(), "registered", name, pid=pid, kind=kind, delivery=delivery, lane=lane)
    if json_:
        _out_json(
            {
                "session": sess.name,
                "pid": sess.pid,
                "kind": sess.kind,
                "delivery": sess.delivery,
                "lane": sess.lane,
                "tmux_socket": sess.tmux_socket,
                "kitty_socket": sess.kitty_socket,
            }
        )
    else:
        click.echo(f"registered {sess.name} -> pid {sess.pid} ({sess.kind})")


@cli.command()
@click.argument("name")
def unregister(name):
    """Forget session NAME (its queued messages stay on disk)."""
    from termbridge import paths, registry
    from termbridge.events import log_event

    paths.validate_name(name)
    registry.unregister(_home(), name)
    log_event(_home(), "unregistered", name)


@cli.command()
@json_option()
def sessions(json_):
    """List registered sessions and whether their PID is alive."""
    from termbridge import registry

    rows = [
        {
            "name": s.name,
            "pid": s.pid,
            "kind": s.kind,
            "alive": (lv := s.liveness()) == "alive",
            "liveness": lv,
            "registered_at": s.registered_at,
        }
        for s in registry.all_sessions(_home())
    ]
    if json_:
        _out_json({"sessions": rows})
        return
    for r in rows:
        click.echo(f"{r['name']}\tpid {r['pid']}\t{r['kind']}\t{r['liveness']}")


# ---------------------------------------------------------------- targets
@cli.command()
@click.argument("name")
@json_option()
@click.option("--surface", "with_surface", is_flag=True, help="Also read what the target shows (surface and reason).")
def resolve(name, json_, with_surface):
    """Print NAME's verified target (found fresh from the live process tree)."""
    from termbridge import paths, registry, targets

    paths.validate_name(name)
    home = _home()
    sess = registry.lookup(home, name)
    tgt = targets.resolve_session(home, sess)
    row = targets.target_json(sess, tgt)
    if with_surface:
        from termbridge.surface import read_surface

        row.update(read_surface(home, sess, tgt).as_dict())
    if json_:
        _out_json(row)
    else:
        click.echo(tgt.target + (f"\t{row['surface']} ({row['reason']})" if with_surface else ""))


@cli.command()
@click.argument("name")
@click.argument("text", required=False)
@click.option("--no-enter", is_flag=True, help="Type the text but do not press Enter.")
@click.option("--enter-only", is_flag=True, help="Press Enter only, over termbridge's own unsubmitted text.")
@click.option("--gap-ms", type=int, help="Milliseconds between the last text byte and Enter (0-10000, default 200).")
@json_option()
def submit(name, text, no_enter, enter_only, gap_ms, json_):
    """Type TEXT (or - / piped stdin) into NAME's verified target, press Enter, and confirm it submitted.

    Direct: no wait for idle, but never into a person's draft or a dialog (exit 4)."""
    from termbridge import submit as sub
    from termbridge.config import load_config
    from termbridge.errors import BadInput
    from termbridge.validate import body_text

    name, host = _split(name)
    if gap_ms is not None:
        sub.check_gap(gap_ms)
    if enter_only and (no_enter or text is not None):
        raise BadInput("--enter-only presses Enter alone: give no TEXT and no --no-enter")
    if not enter_only:
        limit = load_config()["max_body_bytes"]
        if text == "-" or (text is None and not sys.stdin.isatty()):
            raw = sys.stdin.buffer.read(limit + 1)
            if b"\0" in raw:
                raise BadInput("stdin holds a NUL byte: not text")
            text = body_text(raw, limit)
        elif text is None:
            raise click.UsageError("give TEXT, - (or pipe it on stdin), or --enter-only to press Enter alone")
        else:
            text = body_text(text, limit)
    if host:
        from termbridge import remote

        res = remote.submit(_home(), name, host, text, not no_enter, gap_ms, enter_only)
    else:
        res = sub.submit_text(_home(), name, text, enter=not no_enter, gap_ms=gap_ms, enter_only=enter_only)
    if json_:
        _out_json(res.result)
    code = res.report(lambda s: click.echo(s, err=True))
    if code:
        sys.exit(code)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--name", help="Session name to register (default: CMD's basename).")
@click.option("--kind", type=click.Choice(KINDS), help="Agent kind (default: from CMD).")
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED, required=True)
def run(name, kind, cmd):
    """Run CMD under a PTY termbridge owns, registered as NAME (the PTY fallback)."""
    from termbridge import wrapper

    sys.exit(wrapper.run_wrapped(_home(), list(cmd), name, kind))


# ---------------------------------------------------------------- outbox
@cli.command()
@click.argument("name")
@click.argument("message")
@click.option("sender", "--from", help="Who sends it (a session name or token).")
@click.option("--reply-to", help="The id this message answers.")
@click.option("--key", help="Last-wins key: replaces an undelivered message with the same key.")
@click.option("--ttl", type=float, help="Seconds until the message expires into dead letters.")
@click.option("--no-wake", is_flag=True, help="Only queue; do not try a wake nudge.")
@click.option("--wait", "wait_s", type=float, help="Return once the message reaches --until (exit 4 when time is up).")
@click.option("--until", "until", type=click.Choice(["submitted", "received"]), default="submitted", show_default=True)
@json_option()
def send(name, message, sender, reply_to, key, ttl, no_wake, wait_s, until, json_):
    """Queue MESSAGE (or - for stdin) durably for NAME and print its id."""
    from termbridge import sending
    from termbridge.config import load_config

    stdin = sys.stdin.buffer if sys.stdin is not None else None  # `<&-`: an empty body (exit 2)
    raw = (sending.read_body(stdin, load_config()["max_body_bytes"]) if stdin else b"") if message == "-" else message
    sent = sending.send_message(_home(), name, raw, sender, reply_to, key, ttl, not no_wake, wait_s, until)
    code = sending.report(sent, json_, click.echo, lambda s: click.echo(s, err=True))
    if code:
        sys.exit(code)


@cli.command()
@click.argument("name", required=False)
@click.option("--pane", "pane", help="Drain whichever session this pane (%N, kitty:…, pty:NAME) verifiably hosts.")
@click.option("print_", "--print", is_flag=True, help="Write the framed messages to stdout instead of the target.")
@json_option("One JSON object per message (implies --print).")
@click.option("--force", is_flag=True, help="Skip the idle check (never the draft check).")
def drain(name, pane, print_, json_, force):
    """Deliver every pending message for NAME (or the session --pane hosts)."""
    from termbridge import delivery
    from termbridge.context import SessionContext
    from termbridge.errors import BadInput

    home = _home()
    if bool(name) == bool(pane):
        raise BadInput("give exactly one of NAME or --pane")
    if pane:
        name = delivery.session_for_target(home, pane)
        if name is None:
            click.echo(f"termbridge: {pane} hosts no registered session; nothing to drain", err=True)
            return
    name, host = _split(name)
    if host:
        from termbridge import remote

        done_there = remote.drain(home, name, host, print_ or json_, json_, force)
        sys.stdout.write(done_there.get("printed") or "")
        if done_there.get("note"):
            click.echo(f"termbridge: {done_there['note']}", err=True)
        return
    ctx = SessionContext(home, name)  # validates NAME
    if print_ or json_:
        ctx.session  # noqa: B018 - an unknown session is an error (exit 3), not an empty queue
        delivery.drain_print(ctx, sys.stdout.write, as_json=json_, flush=sys.stdout.flush)
        return
    done = delivery.drain_to_target(ctx, force=force)
    if done.note:
        done.report(lambda s: click.echo(s, err=True))
    elif done.count and sys.stderr.isatty():
        click.echo(f"termbridge: delivered {done.count} message(s) to {name}", err=True)


@cli.command("dead-letter")
@click.argument("name")
@json_option()
@click.option("--retry", "retry_id", help="Move this dead letter back to the queue.")
@click.option("--retry-all", is_flag=True, help="Move every retryable dead letter back to the queue.")
def dead_letter(name, json_, retry_id, retry_all):
    """List NAME's dead letters, or retry them."""
    from termbridge import paths, registry
    from termbridge.errors import BadInput
    from termbridge.outbox import Outbox

    paths.validate_name(name)
    home = _home()
    registry.lookup(home, name)
    box = Outbox(home, name)
    if retry_id and retry_all:
        raise BadInput("give --retry ID or --retry-all, not both")
    if retry_id or retry_all:
        moved = box.retry_dead([retry_id] if retry_id else None)
        if json_:
            _out_json({"session": name, "retried": moved})
        else:
            click.echo(f"retried {len(moved)} dead letter(s)")
        return
    entries = box.dead_letters()
    if json_:
        for e in entries:
            _out_json(e)
        return
    for e in entries:
        rec = e.get("record") or {}
        preview = (rec.get("body") or e.get("raw") or "").replace("\n", " ")[:60]
        click.echo(f"{e['id']}\t{e['reason']}\t{preview}")


@cli.command()
@click.argument("name")
@json_option()
def wake(name, json_):
    """One nudge iff messages are pending, the target is idle and none went out within the debounce window."""
    from termbridge import wake as wk
    from termbridge.context import SessionContext

    outcome = wk.wake_session(SessionContext(_home(), name))
    if json_:
        _out_json({"session": name, "outcome": outcome})
    else:
        click.echo(outcome)


@cli.command()
@click.argument("msg_id", metavar="ID")
@json_option()
def receipt(msg_id, json_):
    """What became of message ID: queued, submitted, received, answered, blocked, expired or dead."""
    from termbridge import answers, receipts, validate

    validate.token(msg_id, "message id")
    home = _home()
    try:
        r = answers.receipt_of(home, msg_id, receipts.lookup(home, msg_id))
    except receipts.UnknownMessage:
        from termbridge import remote  # sent to NAME@HOST? its forward queue here knows

        r = remote.receipt(home, msg_id)
        if r is None:
            raise
    if json_:
        _out_json(r)
    else:
        import time

        when = ", ".join(f"{k} {time.strftime('%H:%M:%S', time.localtime(v))}" for k, v in r["at"].items() if v)
        why = f" ({r['reason']})" if r["state"] == "blocked" else ""
        click.echo(f"{r['id']} ({r['session']}): {r['state']}{why} via {r['via']}" + (f" [{when}]" if when else ""))
        if r.get("answer") is not None:
            click.echo(r["answer"])
        elif r.get("reason") and r["state"] != "blocked":
            click.echo(f"  {r['reason']}")


@cli.command()
@click.argument("name")
@click.argument("question")
@click.option("sender", "--from", help="Who asks (a session name or token); default: the agent running this.")
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds to wait for the answer (exit 4 when time is up; the question stays queued or in flight).",
)
@json_option()
def ask(name, question, sender, timeout_s, json_):
    """Ask NAME (or NAME@HOST) QUESTION (or - for stdin) and print its answer, from the agent's own record."""
    from termbridge import remote_ask, sending
    from termbridge.config import load_config

    stdin = sys.stdin.buffer if sys.stdin is not None else None
    raw = (sending.read_body(stdin, load_config()["max_body_bytes"]) if stdin else b"") if question == "-" else question
    got = remote_ask.ask(_home(), name, raw, sender, timeout_s)
    if json_:
        _out_json(got.as_json())
    elif got.answer is not None:
        click.echo(got.answer)
    code = got.report(lambda s: click.echo(s, err=True))
    if code:
        sys.exit(code)


@cli.command(hidden=True)
@click.argument("name")
def waiter(name):
    """The idle waiter `send` starts, detached (internal): deliver once NAME's target goes idle."""
    from termbridge import paths
    from termbridge import waiter as wt

    paths.validate_name(name)
    wt.run_waiter(_home(), name)


@cli.command(hidden=True)
@click.argument("host")
def forwarder(host):
    """HOST's forwarder `send NAME@HOST` starts, detached (internal): forward its queue, then exit."""
    from termbridge import forward, ssh

    forward.run_forwarder(_home(), ssh.validate_host(host))


@cli.command()
def rpc():
    """Serve JSON-line requests on stdin (what another machine's termbridge runs over ssh)."""
    from termbridge import rpc as server

    def write(line: str) -> None:
        sys.stdout.write(line)
        sys.stdout.flush()

    server.serve(_home(), iter(sys.stdin.buffer.readline, b""), write)


def _split(target: str) -> tuple[str, str | None]:
    """NAME or NAME@HOST, validated."""
    from termbridge import paths

    if "@" not in target:
        return paths.validate_name(target), None
    from termbridge.ssh import split_target

    return split_target(target)


@cli.command()
@click.argument("name")
@click.argument("state", type=click.Choice(["idle", "busy"]))
def mark(name, state):
    """Record the idle/busy state an agent hook reports for NAME."""
    from termbridge import idle, paths, registry

    paths.validate_name(name)
    home = _home()
    registry.lookup(home, name)
    idle.set_mark(home, name, state)


class _HookGroup(click.Group):
    """Agent hooks exit 0 on any input or flag: an unknown hook or option is logged, never an error."""

    def resolve_command(self, ctx, args):
        cmd_name = args[0] if args else ""
        if cmd_name in self.commands:
            return super().resolve_command(ctx, args)
        return cmd_name, _hook_unknown, args[1:]

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:
            ctx.exit(0)  # --help, or a hook that finished
        except Exception as e:  # noqa: BLE001 - usage errors included: never fail the agent
            _hook_log_error("hook", f"{type(e).__name__}: {e}")
            ctx.exit(0)


_HOOK_CTX = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": ["-h", "--help"]}


def _hook_log_error(hook: str, error: str) -> None:
    try:
        from termbridge.events import log_event

        log_event(_home(), "hook_error", None, hook=hook, error=error)
    except Exception:  # noqa: BLE001 - not even a broken state dir may fail the agent
        pass


def _hook_opts(args) -> dict:
    """--agent/--session from the raw hook arguments (`--x V` or `--x=V`); anything else is ignored."""
    out: dict = {}
    args = list(args)
    for i, a in enumerate(args):
        for opt in ("agent", "session"):
            if a == f"--{opt}" and i + 1 < len(args):
                out.setdefault(opt, args[i + 1])
            elif a.startswith(f"--{opt}="):
                out.setdefault(opt, a.split("=", 1)[1])
    return out


def _run_hook(event: str, agent: str | None, args) -> None:
    from termbridge import hooks

    opts = _hook_opts(args)
    agent = agent or opts.get("agent") or ""
    known = {"--agent", "--session"}
    extra = [a for a in args if a.startswith("-") and a.split("=", 1)[0] not in known]
    if extra:
        _hook_log_error(f"{event}:{agent}", f"ignored unknown option(s): {' '.join(extra)}")
    try:
        stdin = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read(16 << 20)
    except Exception:  # noqa: BLE001 - an unreadable stdin is malformed input, not a crash
        stdin = b""

    def write(s: str) -> None:
        try:
            sys.stdout.write(s)
            sys.stdout.flush()
        except BaseException:
            # Whatever was buffered must not reach the agent later (or fail the exit flush).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise

    hooks.run_hook(_home(), event, agent, opts.get("session") or None, stdin, write)
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - the agent closed our stdout; do not let the exit flush fail (exit 120)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


@cli.group(cls=_HookGroup, context_settings=_HOOK_CTX, invoke_without_command=True)
@click.pass_context
def hook(ctx):
    """Agent hook entry points: read the agent's hook JSON on stdin, answer in its protocol (always exit 0).

    \b
    termbridge hook session-start|prompt-submit|stop --agent claude|codex|gemini [--session NAME]
    Session: --session, else $TERMBRIDGE_SESSION, else the agent kind.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help(), err=True)


@click.command(context_settings=_HOOK_CTX, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def _hook_unknown(args):
    _hook_log_error("hook", "unknown hook; use session-start, prompt-submit, stop or claude-stop")


def _hook_command(event: str, doc: str):
    @hook.command(event, context_settings=_HOOK_CTX)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="--agent claude|codex|gemini [--session NAME]")
    def run(args):
        _run_hook(event, None, args)

    run.__doc__ = doc
    run.help = doc
    return run


_hook_command(
    "session-start",
    "SessionStart: register the agent's own PID (found in the hook's parent chain), "
    "its kind and where it lives; remember its transcript.",
)
_hook_command(
    "prompt-submit", "UserPromptSubmit / Gemini BeforeAgent: mark busy; message ids in the prompt become `received`."
)
_hook_command(
    "stop", "Stop / Gemini AfterAgent: hand pending messages over within the block budget; otherwise mark idle."
)


@hook.command("claude-stop", context_settings=_HOOK_CTX)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[--session NAME]")
def hook_claude_stop(args):
    """Claude Code Stop hook (alias of `hook stop --agent claude`)."""
    _run_hook("stop", "claude", args)


@cli.group("hooks")
def hooks_group():
    """Install termbridge's hooks into an agent's own settings, or remove them."""


def _hooks_change(action, agent, project, dry_run, command):
    from termbridge import hooks_install as hi

    p = hi.plan(agent, action, project=project, command=command)
    changed = [f for f in p.files if f.changed]
    if dry_run:
        for f in changed:
            click.echo(f.diff(), nl=False)
        if not changed:
            click.echo(f"{agent}: nothing to change")
    else:
        written = hi.apply(p)
        for f in p.files:
            if f.path in written:
                click.echo(hi.describe(f))
            else:
                click.echo(f"{f.path}: already up to date")
        if not p.files:
            click.echo(f"{agent}: no termbridge hooks found; nothing to do")
    if action == "install":
        for line in p.summary:
            click.echo(f"  {line}")
    for note in p.notes:
        click.echo(f"note: {note}")


_AGENT_OPT = click.option("--agent", type=click.Choice(list(AGENT_KINDS)), required=True)
_PROJECT_OPT = click.option(
    "--project", is_flag=True, help="The project's settings in the current directory, not the user's."
)
_DRY_OPT = click.option("--dry-run", is_flag=True, help="Print the unified diff; write nothing.")
_CMD_OPT = click.option(
    "--command",
    "command",
    metavar="PATH",
    help="The termbridge command the agent runs (default: this termbridge's absolute path).",
)


@hooks_group.command("install")
@_AGENT_OPT
@_PROJECT_OPT
@_DRY_OPT
@_CMD_OPT
def hooks_install(agent, project, dry_run, command):
    """Merge termbridge's session-start, prompt-submit and stop hooks into AGENT's settings (idempotent, backed up)."""
    _hooks_change("install", agent, project, dry_run, command)


@hooks_group.command("uninstall")
@_AGENT_OPT
@_PROJECT_OPT
@_DRY_OPT
@_CMD_OPT
def hooks_uninstall(agent, project, dry_run, command):
    """Remove termbridge's hooks from AGENT's settings, keeping everything else (backed up)."""
    _hooks_change("uninstall", agent, project, dry_run, command)


# ---------------------------------------------------------------- observing
@cli.command()
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events.")
@json_option("Raw JSON lines (the default is a readable line each).")
def events(follow, json_):
    """The durable event log, one event a line."""
    from termbridge import events as ev

    home = _home()
    show = (lambda e: _out_json(e)) if json_ else _print_event
    # Following: the rotated file, then the live one read by the follower itself from its
    # start, so nothing appended in between is missed or shown twice.
    for e in ev.read_events(home, live=not follow):
        show(e)
    if follow:
        try:
            for e in ev.follow_events(home):
                show(e)
        except KeyboardInterrupt:
            pass


def _print_event(e: dict) -> None:
    import time

    t = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.get("t", 0)))
    rest = " ".join(f"{k}={v}" for k, v in e.items() if k not in ("t", "event", "session"))
    click.echo(f"{t} {e.get('event')} {e.get('session') or '-'} {rest}".rstrip())


@cli.command()
@json_option()
@click.option("--all-hosts", is_flag=True, help="Also every configured host's sessions (asked in parallel).")
@click.argument("name", required=False, metavar="[NAME]")
def status(json_, all_hosts, name):
    """Per session: pid alive, target, surface and why, pending, in-flight, receipts, dead letters, last wake."""
    from termbridge import status as st

    host = _split(name)[1] if name else None
    if host or all_hosts:
        from termbridge import forward, remote

        forward.kick(_home())  # a host's queue whose forwarder gave up: try again
    if host:
        rows = [r for r in remote.host_status(_home(), host) if r["name"] in (name, f"@{host}")]
    else:
        rows = st.collect_status(_home()) + (remote.all_hosts_status(_home()) if all_hosts else [])
        rows = [r for r in rows if r["name"] == name] if name else rows
    if json_:
        _out_json({"sessions": rows})
        return
    if not rows:
        click.echo("no sessions registered")
    for r in rows:
        if r.get("unreachable"):
            click.echo(f"{r['name']}: unreachable: {r['error']}, forward queue {r['forward_pending']}")
            continue
        if r.get("error"):
            click.echo(f"{r['name']}: refused: {r['error']}")
            continue
        if r.get("sessions") == 0:
            click.echo(f"{r['name']}: no sessions registered, forward queue {r['forward_pending']}")
            continue
        rc = r.get("receipts") or {}
        surf = f"{r['surface']} ({r['reason']})" if r.get("surface") else "-"
        lane = f"lane {r['lane']}" + (f" ({r['lane_reason']})" if r.get("lane_reason") else "") if r.get("lane") else ""
        click.echo(
            f"{r['name']}: pid {r['pid']} {'alive' if r['alive'] else r['liveness']}, "
            f"target {r.get('target') or '-'}, {surf}, pending {r['pending']}, "
            f"in-flight {r['in_flight']}, submitted {rc.get('submitted', 0)}, received {rc.get('received', 0)}, "
            f"dead letters {r['dead_letters']}, last wake {r.get('last_wake') or '-'}"
            + (f", waiter pid {r['waiter']['pid']}" if r.get("waiter") else "")
            + (f", {lane}" if lane else "")
        )


@cli.command()
@click.option(
    "--interval",
    type=click.FloatRange(0.5, 60),
    help="Seconds between reads of the sessions' screens, one tmux call per session (default 3).",
)
def top(interval):
    """Live view of every session and the event stream; keys drain, print, or switch tmux to a session's pane.

    \b
    Keys: up/down (j/k) select · d drain · p print (hands the messages to you, after y)
    s or Enter switch the tmux client to the pane · / filter · r read screens now · q quit.
    Nothing is typed into any pane unless you press d."""
    from termbridge.errors import BadInput

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise BadInput("top needs a terminal (scripts: termbridge status --json, termbridge events --follow)")
    from termbridge import top as top_view  # curses, only here: never on send's or the hooks' path

    top_view.run_top(_home(), interval or top_view.SCREEN_INTERVAL_S)


@cli.command(hidden=True)
@click.argument("what", type=click.Choice(["pending", "attention"]))
@click.argument("pane_pid", type=int, required=False)
@click.option("--icon", help="Text before the count or the names (default: '✉ ' / '⚠ ').")
def statusline(what, pane_pid, icon):
    """The tmux status line's #{termbridge_pending} (PANE_PID: #{pane_pid}) and #{termbridge_attention}.

    Prints nothing when there is nothing to show. The plugin runs it every status-interval;
    the console entry runs it without click (fastpath.py)."""
    from termbridge import statusline as sl
    from termbridge.errors import BadInput

    if what == "pending" and (pane_pid is None or pane_pid <= 0):
        raise BadInput("statusline pending needs the pane's root process id (#{pane_pid})")
    if what == "attention" and pane_pid is not None:
        raise BadInput("statusline attention takes no PANE_PID")
    opts: dict = {"what": what, "pane_pid": pane_pid}
    if icon is not None:
        opts["icon"] = icon
    text = sl.text_for(_home(), opts)
    if text:
        click.echo(text)


@cli.command()
@json_option()
def doctor(json_):
    """Check tmux, focus-events, the plugin, kitty, state permissions, config and hooks; say what to fix."""
    from termbridge import doctor as dr

    found = dr.report(dr.run_checks(_home()))
    if json_:
        _out_json(found.data)
    else:
        click.echo(found.text)
    sys.exit(found.exit_code)


@cli.command("paths")
@click.argument(
    "what",
    required=False,
    metavar="[NAME]",
    type=click.Choice(["command", "data", "tmux", "kitty", "shell", "state", "config"]),
)
@json_option()
def paths_cmd(what, json_):
    """Where this termbridge and its plugins live (NAME: print only that one).

    command: the absolute termbridge to put in other programs' configs; tmux: the tmux
    plugin to run-shell; kitty: the directory to link into kitty's config directory;
    shell: the shell and agent snippets; data: the directory holding those; state; config.
    """
    from termbridge.plugins import all_paths

    found = all_paths()
    if what:
        click.echo(found[what])
    elif json_:
        _out_json(found)
    else:
        for name, value in found.items():
            click.echo(f"{name:8} {value}")


@cli.command()
@click.option("--keep", is_flag=True, help="Leave the demo's tmux server running and print how to attach.")
def demo(keep):
    """Show every delivery path on a private tmux server with a demo agent, then clean up."""
    from termbridge.demo import run_demo

    run_demo(click.echo, keep=keep)


@cli.command()
@click.option("--name", help="Session name to register (default: $TERMBRIDGE_SESSION, else the agent's kind).")
def mcp(name):
    """MCP server on stdio for the agent that starts it: tools send, inbox, peers, receipt."""
    from termbridge import mcp_server
    from termbridge.errors import SdkMissing

    try:
        mcp_server.load_sdk()
    except SdkMissing as e:
        click.echo(str(e), err=True)
        sys.exit(1)
    mcp_server.serve(name)  # the state home may come from the agent's environment


def main() -> None:
    """Console-script entry point: usage errors become one line on stderr and exit 2."""
    try:
        rv = cli.main(prog_name="termbridge", standalone_mode=False)
    except click.UsageError as e:
        where = e.ctx.command_path if e.ctx else "termbridge"
        click.echo(f"termbridge: {e.format_message()} (see '{where} --help')", err=True)
        sys.exit(2)
    except click.ClickException as e:
        click.echo(f"termbridge: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("termbridge: aborted", err=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
