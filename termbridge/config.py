"""Defaults and the optional YAML config; YAML is imported only when the file exists."""

from __future__ import annotations

import os
from collections.abc import Mapping

from termbridge.errors import ConfigError

TYPE_CHECKING = False  # no `typing` at run time on send's hot path (kinds.py)
if TYPE_CHECKING:
    from typing import Any

PULL_NUDGE_TEXT = (
    "[termbridge] New peer messages are waiting for {session}: fetch them with the termbridge inbox tool "
    "(or run: termbridge drain {session} --print)."
)
NUDGE_TEXT = (
    "[termbridge] New peer messages are waiting for {session}; they arrive when you are idle "
    "(or run: termbridge drain {session} --print)."
)

# key: default  # meaning -- docs/config.md's table mirrors this (tests/test_docs.py checks it).
DEFAULTS: dict[str, Any] = {
    "max_body_bytes": 65536,  # larger send bodies are refused (exit 2)
    "default_ttl": None,  # seconds; None = messages never expire
    "dead_letter_attempts": 5,  # failed deliveries before a message is dead-lettered
    "debounce_ms": 1000,  # wake nudges to one session at most once per window
    "gap_ms": 200,  # paste -> Enter gap for submit
    "block_budget": 3,  # consecutive Stop-hook blocks before letting Claude stop
    "nudge_text": NUDGE_TEXT,  # the fixed wake line; {session} is the only field
    "busy_mark_stale_s": 300,  # a `mark busy` older than this no longer counts
    "idle_sample_ms": 350,  # screen samples this far apart must match to call a target idle
    "pty_quiet_ms": 500,  # PTY wrapper output silence that counts as idle
    "backoff_base_ms": 2000,  # first back-off after a failed delivery
    "backoff_max_ms": 300000,  # cap of the exponential back-off
    "ledger_size": 10000,  # delivered ids remembered per session
    "events_max_bytes": 4 * 1024 * 1024,  # event log rotates past this size
    "lock_timeout_s": 30,  # waiting longer for a state lock is a runtime failure
    "idle_wait_max_s": 3600,  # an idle waiter gives up after this long
    "confirm_retries": 3,  # Enter-only retries while the typed text stays in the composer
    "confirm_wait_ms": 400,  # how long to watch for the text to leave the composer (grows per retry)
    "max_enter_presses": 4,  # Enter presses one message gets in all; then it is dead-lettered
    "ask_pair_limit": 8,  # questions between the same two sessions in any 10 minutes
    "attention_after_s": 30,  # a dialog holding a message longer than this needs the person
    "kinds": {},  # extra or overriding per-kind screen patterns (see surface.py)
    "hosts": {},  # other machines reached over ssh: {HOST: {command, ssh, connect_timeout_s}} (see ssh.py)
}

_INT_KEYS = {
    "max_body_bytes": 1,
    "dead_letter_attempts": 1,
    "debounce_ms": 0,
    "gap_ms": 0,
    "block_budget": 0,
    "busy_mark_stale_s": 1,
    "idle_sample_ms": 50,
    "pty_quiet_ms": 50,
    "backoff_base_ms": 0,
    "backoff_max_ms": 0,
    "ledger_size": 100,
    "events_max_bytes": 4096,
    "lock_timeout_s": 1,
    "idle_wait_max_s": 1,
    "confirm_retries": 0,
    "confirm_wait_ms": 50,
    "max_enter_presses": 1,
    "ask_pair_limit": 1,
    "attention_after_s": 0,
}
# Upper bounds where a huge value would overflow (a sleep) or hang a caller.
_INT_MAX = {"gap_ms": 10000, "confirm_retries": 10, "confirm_wait_ms": 10000, "max_enter_presses": 100}
_KIND_KEYS = {"busy": list, "composer": str, "placeholder": list, "ready": list, "dialog": list, "pasted": list}

_cache: dict[str, dict[str, Any]] = {}


def config_path(env: Mapping[str, str] | None = None) -> str:
    """$TERMBRIDGE_CONFIG, else $XDG_CONFIG_HOME/termbridge/config.yaml, else ~/.config/termbridge/config.yaml
    (a str: pathlib is not imported on send's hot path)."""
    from termbridge.paths import tidy

    env = os.environ if env is None else env
    if env.get("TERMBRIDGE_CONFIG"):
        return tidy(os.path.expanduser(env["TERMBRIDGE_CONFIG"]))
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return tidy(os.path.join(base, "termbridge", "config.yaml"))


def load_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The effective config: defaults overlaid with the YAML file when it exists."""
    path = config_path(env)
    key = str(path)
    if key in _cache:
        return _cache[key]
    cfg = dict(DEFAULTS)
    try:
        text = _read_regular(path)
    except FileNotFoundError:
        text = None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config {path}: {e}") from None
    if text is not None:
        cfg.update(validate(parse_yaml(text, path), path))
    _cache[key] = cfg
    return cfg


def _read_regular(path: str) -> str:
    """PATH's text, opened without blocking: a FIFO or device would hang every command."""
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
        with os.fdopen(fd, "rb") as f:
            fd = -1
            return f.read().decode("utf-8")
    finally:
        if fd >= 0:
            os.close(fd)


def parse_yaml(text: str, path: str) -> dict:
    import yaml  # only when a config file exists: ~60-85 ms of start-up otherwise

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config {path}: invalid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: the top level must be a mapping of keys")
    return data


def validate(data: dict, path: str = "config") -> dict:
    """Check every key's type and range; raise ConfigError naming the first bad key."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in DEFAULTS:
            raise ConfigError(f"config {path}: unknown key {key!r}")
        if key in _INT_KEYS:
            lo, hi = _INT_KEYS[key], _INT_MAX.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
                want = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
                raise ConfigError(f"config {path}: key {key!r} must be an integer {want}")
        elif key == "default_ttl":
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ConfigError(f"config {path}: key 'default_ttl' must be a positive number of seconds or null")
        elif key == "nudge_text":
            if not isinstance(value, str) or not value.strip() or "\n" in value or len(value) > 300:
                raise ConfigError(
                    f"config {path}: key 'nudge_text' must be one non-empty line of at most 300 characters"
                )
            try:
                value.format(session="x")
            except (KeyError, IndexError, ValueError):
                raise ConfigError(f"config {path}: key 'nudge_text' may only use the field {{session}}") from None
        elif key == "kinds":
            _validate_kinds(value, path)
        elif key == "hosts":
            _validate_hosts(value, path)
        out[key] = value
    return out


def _validate_kinds(value: Any, path: str) -> None:
    import re

    from termbridge.kinds import KINDS

    if not isinstance(value, dict):
        raise ConfigError(f"config {path}: key 'kinds' must be a mapping of kind name to patterns")
    for kind, spec in value.items():
        where = f"kinds.{kind}"
        if kind not in KINDS:
            raise ConfigError(f"config {path}: key {where!r} names an unknown kind: use one of {', '.join(KINDS)}")
        if not isinstance(spec, dict):
            raise ConfigError(f"config {path}: key {where!r} must be a mapping")
        for k, v in spec.items():
            if k not in _KIND_KEYS:
                raise ConfigError(f"config {path}: unknown key '{where}.{k}'")
            items = v if isinstance(v, list) else [v]
            if not isinstance(v, _KIND_KEYS[k]) or not all(isinstance(p, str) for p in items):
                want = "a list of regexes" if _KIND_KEYS[k] is list else "a regex"
                raise ConfigError(f"config {path}: key '{where}.{k}' must be {want}")
            for p in items:
                try:
                    rx = re.compile(p)
                except (re.error, RecursionError, OverflowError) as e:
                    raise ConfigError(f"config {path}: key '{where}.{k}' has a bad regex {p!r}: {e}") from None
                # The composer pattern must say where the draft is ('' means: this kind has none).
                if k == "composer" and p and "draft" not in rx.groupindex:
                    raise ConfigError(f"config {path}: key '{where}.{k}' must have a (?P<draft>...) group: {p!r}")


_HOST_KEYS = ("command", "ssh", "connect_timeout_s")


def _validate_hosts(value: Any, path: str) -> None:
    """hosts: {HOST: {command: str, ssh: [str], connect_timeout_s: int}} -- HOST an ssh destination."""
    import re

    if not isinstance(value, dict):
        raise ConfigError(f"config {path}: key 'hosts' must be a mapping of host to settings")
    for host, spec in value.items():
        where = f"hosts.{host}"
        # As ssh.validate_host: a Host of the ssh config or [user@]host, never an option (leading '-').
        if not isinstance(host, str) or not re.fullmatch(
            r"(?:[A-Za-z0-9._-]{1,64}@)?(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,252}|\[[0-9A-Fa-f:.%a-z]{2,64}\])", host
        ):
            raise ConfigError(f"config {path}: key {where!r}: not an ssh destination ([user@]host or a Host)")
        if spec is None:
            continue
        if not isinstance(spec, dict):
            raise ConfigError(f"config {path}: key {where!r} must be a mapping")
        for k in spec:
            if k not in _HOST_KEYS:
                raise ConfigError(f"config {path}: unknown key '{where}.{k}'")
        cmd = spec.get("command", "termbridge")
        if not isinstance(cmd, str) or not cmd.strip() or "\n" in cmd or "\0" in cmd:
            raise ConfigError(f"config {path}: key '{where}.command' must be one non-empty line")
        args = spec.get("ssh", [])
        if not isinstance(args, list) or not all(isinstance(a, str) and "\n" not in a and "\0" not in a for a in args):
            raise ConfigError(f"config {path}: key '{where}.ssh' must be a list of ssh arguments (strings)")
        t = spec.get("connect_timeout_s", 5)
        if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= 120:
            raise ConfigError(f"config {path}: key '{where}.connect_timeout_s' must be an integer from 1 to 120")
