"""The tmux status line's texts: `#{termbridge_pending}` and `#{termbridge_attention}`.

With the plugin loaded, tmux runs `termbridge statusline pending #{pane_pid}` and
`termbridge statusline attention` every `status-interval`, for every attached client. So
they take the console entry's fast path (fastpath.py: no click) and import only what they
use: `pending` reads the registry, /proc and one outbox (no tmux call at all);
`attention` reads every outbox and looks at a screen only for the sessions that have
messages waiting. What they print is for display: nothing here ever types anywhere.

Both print nothing (not even a newline) when there is nothing to show, which tmux shows as
an empty string.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from termbridge import proctree, registry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

PENDING_ICON = "✉ "
ATTENTION_ICON = "⚠ "
USAGE = "usage: termbridge statusline pending PANE_PID [--icon TEXT] | statusline attention [--icon TEXT]"


def sessions_in_pane(home: StrPath, pane_pid: int) -> list[registry.Session]:
    """The live registered sessions whose process runs in the pane whose root process is PANE_PID.

    The pane's root is in the session's own ancestor chain (read from /proc now; PID reuse
    is ruled out by the start time). For display only: delivery verifies its target itself.
    """
    found = []
    for sess in registry.all_sessions(home):
        if pane_pid in proctree.ancestor_chain(sess.pid) and sess.alive():
            found.append(sess)
    return found


def pending_count(home: StrPath, name: str) -> int:
    """Messages waiting for NAME, counted as `status` counts them."""
    from termbridge.config import DEFAULTS
    from termbridge.outbox import Outbox

    # Counting reads no config key; the defaults spare every status refresh the YAML import.
    return int(Outbox(home, name, dict(DEFAULTS)).stats()["pending"])


def pending_text(home: StrPath, pane_pid: int, icon: str = PENDING_ICON) -> str:
    """ICON + the messages waiting for the session(s) in that pane; '' when none."""
    n = sum(_pending_or_none(home, s.name) for s in sessions_in_pane(home, pane_pid))
    return f"{icon}{n}" if n else ""


def _pending_or_none(home: StrPath, name: str) -> int:
    """pending_count, or 0 for a session whose state cannot be read (one session's unsafe
    directory never blanks the status line for the others; `status` says what is wrong)."""
    from termbridge.errors import TermbridgeError

    try:
        return pending_count(home, name)
    except (TermbridgeError, OSError):
        return 0


def attention_names(home: StrPath, cfg: dict | None = None, now: float | None = None) -> list[str]:
    """The sessions whose dialog has held a message longer than `attention_after_s`.

    Looks at the screen of each live session with messages pending (one tmux call each, one
    `list-panes` per server) and keeps the dialog-hold stamps (attention.py) up to date.
    """
    from termbridge import attention

    if cfg is None:
        from termbridge.config import load_config

        cfg = load_config()
    waiting = []
    for sess in registry.all_sessions(home):
        n = _pending_or_none(home, sess.name) if sess.alive() else 0
        if n:
            waiting.append((sess, n))
        else:
            attention.note_surface(home, sess.name, None, "", 0, now)
    if not waiting:
        return []
    from termbridge import surface, targets
    from termbridge.errors import TermbridgeError

    index = targets.HostIndex(home)
    names = []
    for sess, n in waiting:
        try:
            tgt = targets.resolve_session(home, sess, log_failure=False, index=index)
            seen = surface.read_surface(home, sess, tgt, sample=False, cfg=cfg)
            kind, reason = seen.kind, seen.reason
        except TermbridgeError:
            kind, reason = None, ""
        hold = attention.note_surface(home, sess.name, kind, reason, n, now)
        if attention.needs_person(hold, cfg["attention_after_s"], now):
            names.append(sess.name)
    return names


def attention_text(home: StrPath, icon: str = ATTENTION_ICON) -> str:
    """ICON + the names of the sessions whose dialog needs their person; '' when none."""
    names = attention_names(home, now=time.time())
    return icon + " ".join(names) if names else ""


def parse_args(args: list[str]) -> dict | None:
    """`pending PANE_PID [--icon TEXT]` or `attention [--icon TEXT]`; None when ARGS are neither."""
    opts: dict = {}
    pos: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--icon" and i + 1 < len(args):
            opts["icon"] = args[i + 1]
            i += 2
            continue
        if a.startswith("--icon="):
            opts["icon"] = a.partition("=")[2]
        elif a.startswith("-"):
            return None
        else:
            pos.append(a)
        i += 1
    if pos[:1] == ["pending"] and len(pos) == 2 and pos[1].isdigit() and int(pos[1]) > 0:
        opts.update(what="pending", pane_pid=int(pos[1]))
    elif pos == ["attention"]:
        opts["what"] = "attention"
    else:
        return None
    return opts


def text_for(home: StrPath, opts: dict) -> str:
    """The status-line text OPTS (from parse_args) ask for."""
    if opts["what"] == "pending":
        return pending_text(home, opts["pane_pid"], opts.get("icon", PENDING_ICON))
    return attention_text(home, opts.get("icon", ATTENTION_ICON))


def run(args: list[str], write: Callable[[str], object] | None = None) -> int | None:
    """`termbridge statusline ARGS` without click; None when ARGS are not a plain form (click reports)."""
    opts = parse_args(args)
    if opts is None:
        return None
    import os

    from termbridge import paths
    from termbridge.errors import TermbridgeError

    try:
        text = text_for(paths.state_home(), opts)
    except TermbridgeError as e:
        _stderr(f"termbridge: {e}")
        return e.exit_code
    except Exception as e:  # noqa: BLE001 - one line, not a traceback, at the boundary (as in cli.py)
        if os.environ.get("TERMBRIDGE_DEBUG"):
            raise
        _stderr(f"termbridge: error: {type(e).__name__}: {e}")
        return 1
    if text:
        (write or _stdout)(text + "\n")
    return 0


def _stderr(s: str) -> None:
    if sys.stderr is not None:
        sys.stderr.write(s + "\n")


def _stdout(s: str) -> None:
    if sys.stdout is not None:
        sys.stdout.write(s)
        sys.stdout.flush()
