"""The session context: one command's view of one session, built once and handed down.

A `send`, a drain, a wake, a hook or the waiter makes one `SessionContext` and passes it to
every layer below, instead of each layer looking the session, its directory, its outbox and
the config up again. It holds:

  home, name     the state home and the session's name (validated)
  files          every file of the session's directory (session_files.SessionFiles)
  cfg            the configuration, loaded once
  session        the registry entry, read once (`refresh()` reads it again: the waiter)
  outbox         the session's Outbox, built once (one lock descriptor kept open)

and owns what belongs to the session but to no one layer: the delivery lock (held from
reading the screen to confirming the Enter) and the delivery back-off.
"""

from __future__ import annotations

import json
import os
import time

from termbridge import paths, registry
from termbridge.config import load_config
from termbridge.outbox import Outbox
from termbridge.session_files import SessionFiles

TYPE_CHECKING = False  # no `typing` (nor pathlib) at run time on send's hot path (kinds.py)
if TYPE_CHECKING:
    from typing import Any

    from termbridge.paths import StrPath


class SessionContext:
    """One session, as one command sees it (see the module docstring)."""

    __slots__ = ("home", "name", "files", "_cfg", "_session", "_outbox")

    def __init__(
        self,
        home: StrPath,
        name: str,
        cfg: dict[str, Any] | None = None,
        session: registry.Session | None = None,
    ):
        self.home = os.fspath(home)  # a str, as every path on send's hot path
        self.files = SessionFiles.of(self.home, name)  # validates NAME
        self.name = name
        self._cfg = cfg
        self._session = session
        self._outbox: Outbox | None = None

    @property
    def dir(self) -> str:
        return self.files.dir

    @property
    def cfg(self) -> dict[str, Any]:
        if self._cfg is None:
            self._cfg = load_config()
        return self._cfg

    @property
    def session(self) -> registry.Session:
        """The registry entry (UnknownSession when none), read once per context."""
        if self._session is None:
            self._session = registry.lookup(self.home, self.name)
        return self._session

    def refresh(self) -> registry.Session:
        """The registry entry read again (a long-lived process: it may have been re-registered)."""
        self._session = None
        return self.session

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox(self.home, self.name, self.cfg)
        return self._outbox

    # ------------------------------------------------------------------ the delivery lock
    def delivery_lock(self) -> paths.StateLock:
        """Held from reading the surface to confirming the Enter, so two deliveries never interleave keys."""
        paths.ensure_dir(self.dir)
        return paths.state_lock(self.files.deliver_lock, timeout=self.cfg["lock_timeout_s"])

    # ------------------------------------------------------------------ the back-off
    def read_backoff(self) -> dict:
        """The session's delivery back-off state ({} when none)."""
        import math  # not on send's path

        state = paths.read_json(self.files.backoff, {})
        ok = (
            isinstance(state.get("failures", 0), int)
            and not isinstance(state.get("failures", 0), bool)
            and isinstance(state.get("next_at", 0), (int, float))
            and math.isfinite(state.get("next_at", 0))
        )
        return state if ok else {}  # a damaged back-off file means no back-off, never a crash

    def record_outcome(self, ok: bool, error: str = "") -> dict:
        """A delivery attempt's outcome: success clears the back-off, a failure doubles it."""
        if ok:
            state: dict = {}
        else:
            cfg = self.cfg
            failures = int(self.read_backoff().get("failures", 0)) + 1
            delay = min(cfg["backoff_base_ms"] * 2 ** (failures - 1), cfg["backoff_max_ms"]) / 1000.0
            state = {"failures": failures, "next_at": time.time() + delay, "last_error": error[:300]}
        paths.atomic_write(self.files.backoff, json.dumps(state).encode())
        return state
