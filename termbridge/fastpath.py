"""The console entry point, with hot paths for `termbridge send` (every agent hook runs it, and
importing click costs more than the rest of a send) and `termbridge statusline` (tmux runs it
every status-interval; see statusline.py). The plain forms of `send` are parsed here
and run through the very library call the click command makes (sending.send_message /
report); anything else -- help, an unknown, malformed or misplaced option, a missing
argument -- falls through to click, which parses and reports it as always.
"""

from __future__ import annotations

import os
import sys

_VALUE_OPTS = {
    "--from": "sender",
    "--reply-to": "reply_to",
    "--key": "key",
    "--ttl": "ttl",
    "--wait": "wait_s",
    "--until": "until",
}
_FLAGS = {"--no-wake": "no_wake", "--json": "json_"}


def parse_send(args: list[str]) -> dict | None:
    """The options of `send ARGS` in the plain forms, or None to let click parse them."""
    pos: list[str] = []
    opts: dict = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            pos.extend(args[i + 1 :])
            break
        name, eq, value = a.partition("=")
        if a in _FLAGS:
            opts[_FLAGS[a]] = True
        elif name in _VALUE_OPTS:
            if not eq:
                if i + 1 >= len(args):
                    return None
                i += 1
                value = args[i]
            opts[_VALUE_OPTS[name]] = value
        elif a.startswith("-") and a != "-":
            return None
        else:
            pos.append(a)
        i += 1
    if len(pos) != 2:
        return None
    for k in ("ttl", "wait_s"):
        if k in opts:
            try:
                opts[k] = float(opts[k])
            except ValueError:
                return None
    if opts.get("until", "submitted") not in ("submitted", "received"):
        return None
    opts["name"], opts["message"] = pos
    return opts


def run_send(args: list[str]) -> int | None:
    """Run `send ARGS` without click; None when ARGS are not a plain form (click takes over)."""
    opts = parse_send(args)
    if opts is None:
        return None
    from termbridge.errors import TermbridgeError

    # A closed stdout or stderr (`>&-`: sys.stdout is None) drops what would go there, as
    # click.echo does: the message is durable either way.
    def out(s: str) -> None:
        if sys.stdout is not None:
            sys.stdout.write(s + "\n")
            sys.stdout.flush()

    def err(s: str) -> None:
        if sys.stderr is not None:
            sys.stderr.write(s + "\n")
            sys.stderr.flush()

    try:
        from termbridge import paths, sending
        from termbridge.config import load_config

        cfg = load_config()
        message = opts["message"]
        stdin = sys.stdin.buffer if sys.stdin is not None else None
        raw = (sending.read_body(stdin, cfg["max_body_bytes"]) if stdin else b"") if message == "-" else message
        sent = sending.send_message(
            paths.state_home(),
            opts["name"],
            raw,
            opts.get("sender"),
            opts.get("reply_to"),
            opts.get("key"),
            opts.get("ttl"),
            not opts.get("no_wake"),
            opts.get("wait_s"),
            opts.get("until", "submitted"),
        )
        return sending.report(sent, bool(opts.get("json_")), out, err)
    except TermbridgeError as e:
        err(f"termbridge: {e}")
        return e.exit_code
    except BrokenPipeError:
        return 1
    except Exception as e:  # noqa: BLE001 - one line, not a traceback, at the boundary (as in cli.py)
        if os.environ.get("TERMBRIDGE_DEBUG"):
            raise
        err(f"termbridge: error: {type(e).__name__}: {e}")
        return 1


def main() -> None:
    """`termbridge`: the hot paths for `send` and the tmux status line, else the click CLI."""
    if sys.argv[1:2] == ["send"]:
        rc = run_send(sys.argv[2:])
        if rc is not None:
            sys.exit(rc)
    elif sys.argv[1:2] == ["statusline"]:
        from termbridge.statusline import run as run_statusline

        rc = run_statusline(sys.argv[2:])
        if rc is not None:
            sys.exit(rc)
    from termbridge.cli import main as cli_main

    cli_main()
