"""The one error root; every subclass carries the exit code the CLI maps it to."""


class TermbridgeError(Exception):
    """A failure the CLI reports as one line; exit code 1 (runtime failure)."""

    exit_code = 1


class BadInput(TermbridgeError):
    """Bad input or usage; nothing was written (exit 2)."""

    exit_code = 2


class ConfigError(BadInput):
    """The YAML config is malformed; the message names the key (exit 2)."""


class StateError(TermbridgeError):
    """State on disk is unsafe (symlink, foreign owner) or unreadable (exit 1)."""


class NoTarget(TermbridgeError):
    """Unknown session, dead or reused PID, or no verified target (exit 3)."""

    exit_code = 3


class UnknownSession(NoTarget):
    """No session of that name is registered (exit 3)."""


class DeadSession(NoTarget):
    """The session's PID is gone or now belongs to another process (exit 3)."""


class TargetBusy(TermbridgeError):
    """The target is busy or holds a draft; delivery deferred (exit 4)."""

    exit_code = 4


class BackendError(TermbridgeError):
    """A terminal backend (tmux, kitty, PTY wrapper) failed (exit 1)."""


class TmuxError(BackendError):
    """A tmux command failed; str() reads like 'send-keys: can't find pane: %9'."""


class KittyError(BackendError):
    """kitty could not be reached or refused a command."""


class Unconfirmed(TermbridgeError):
    """Typed, Enter pressed (and retried), but the text is still in the composer (exit 1)."""


class UnknownMessage(UnknownSession):
    """No message with that id is known (exit 3)."""


class NameHeld(TermbridgeError):
    """A session name belongs to another live process: a hook or an MCP server does not take it over.
    OLD is that process's registry entry."""

    def __init__(self, message: str, old) -> None:
        super().__init__(message)
        self.old = old


class SdkMissing(TermbridgeError):
    """The optional `mcp` package is not installed (exit 1)."""


class JsoncError(ValueError):
    """JSON with comments that does not parse; the message says what and where (line and column).
    A ValueError, not a TermbridgeError: jsonc.py is a parser of its own, its callers say what failed."""


class AskRefused(TermbridgeError):
    """A question refused before it was queued: the pair limit (exit 4)."""

    exit_code = 4


class NativeUnconfirmed(TermbridgeError):
    """The agent's own channel took the whole message but never confirmed it (exit 1): it stays queued."""


class HostError(TermbridgeError):
    """HOST could not be reached, refused us, or its termbridge failed (exit 1)."""

    def __init__(self, host: str, message: str, kind: str = "unreachable"):
        super().__init__(f"{host}: {message}")
        self.host, self.kind = host, kind


class HostKeyRefused(HostError):
    """HOST's key is unknown or changed: refused, nothing sent, no key written (exit 1)."""


class RemoteFailed(TermbridgeError):
    """HOST's termbridge refused or failed; carries the exit code it gave."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
