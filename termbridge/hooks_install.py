"""`termbridge hooks install|uninstall`: merge termbridge's hooks into each agent's own settings.

  claude  ~/.claude/settings.json   (--project: ./.claude/settings.json)
  codex   $CODEX_HOME/hooks.json    (--project: ./.codex/hooks.json), plus
          `[features] codex_hooks = true` in $CODEX_HOME/config.toml
  gemini  ~/.gemini/settings.json   (--project: ./.gemini/settings.json)

Every other hook and key is kept; re-running changes nothing; a changed file is first
copied to `<file>.termbridge-backup`. A file that does not parse is refused (BadInput,
nothing written). termbridge's own entries are recognised by their command: a
`termbridge` program (or the --command given) running `hook …`, or the older
`register`/`mark` snippet lines, which an install replaces.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from termbridge.errors import BadInput
from termbridge.hooks import AGENT_EVENTS, AGENTS, EVENTS

# Seconds for claude and codex, milliseconds for gemini (each agent's own unit).
_TIMEOUT = {"claude": 10, "codex": 10, "gemini": 10000}
CODEX_TRUST_NOTE = (
    "Codex runs new or changed hooks only after you trust them once: start codex and "
    'pick "Trust all and continue" in its "Hooks need review" screen. termbridge never writes '
    "Codex's trust state."
)
_OUR_VERBS = ("register", "mark")  # the 0.1 snippets' lines
_OUR_HOOKS = (*EVENTS, "claude-stop")
_PYTHON = re.compile(r"^python[0-9.]*$")


@dataclass
class FileChange:
    path: Path
    before: str | None  # None: the file did not exist
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                (self.before or "").splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=str(self.path) if self.before is not None else "/dev/null",
                tofile=str(self.path),
            )
        )


@dataclass
class Plan:
    agent: str
    action: str
    files: list[FileChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)


def termbridge_command() -> str:
    """The command line that runs this termbridge, absolute (see plugins.command_argv)."""
    from termbridge.plugins import command_string

    return command_string()


def _home() -> Path:
    return Path(os.path.expanduser("~"))


def codex_home() -> Path:
    return Path(os.environ.get("CODEX_HOME") or _home() / ".codex")


def settings_path(agent: str, project: bool = False, cwd: Path | None = None) -> Path:
    """Where AGENT's hooks live (user level, or the project in CWD)."""
    base = Path(cwd or os.getcwd())
    if agent == "claude":
        return base / ".claude" / "settings.json" if project else _home() / ".claude" / "settings.json"
    if agent == "codex":
        return base / ".codex" / "hooks.json" if project else codex_home() / "hooks.json"
    if agent == "gemini":
        return base / ".gemini" / "settings.json" if project else _home() / ".gemini" / "settings.json"
    raise BadInput(f"invalid agent {agent!r}: one of {', '.join(AGENTS)}")


def is_ours(command: object, extra: str | None = None) -> bool:
    """Whether a hook COMMAND is termbridge's: the program `termbridge` (any directory),
    `python -m termbridge` or EXTRA (the --command given), running a `hook` subcommand
    termbridge writes, or the 0.1 snippets' `register`/`mark` lines an install replaces.
    A user's own `termbridge-notify hook …` or `termbridge send …` is not."""
    if not isinstance(command, str):
        return False
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    if len(words) >= 3 and _PYTHON.match(os.path.basename(words[0])) and words[1:3] == ["-m", "termbridge"]:
        words = ["termbridge"] + words[3:]
    if len(words) < 2:
        return False
    prog = words[0]
    if not (os.path.basename(prog) == "termbridge" or (extra is not None and prog == extra)):
        return False
    if words[1] == "hook":
        return len(words) >= 3 and words[2] in _OUR_HOOKS
    return words[1] in _OUR_VERBS


def _split1(cmd: str) -> list[str]:
    try:
        return shlex.split(cmd)[:1]
    except ValueError:
        return []


def _read(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"cannot read {path}: {e}") from None


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range (it would be written back as Infinity, not JSON)")
    return value


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not JSON")


def _parse_settings(path: Path, text: str | None) -> dict:
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
        _dump(data).encode("utf-8")  # a lone surrogate (\ud800) would not write back
    except (ValueError, RecursionError) as e:
        why = "nested too deeply" if isinstance(e, RecursionError) else str(e).splitlines()[0] if str(e) else "invalid"
        raise BadInput(f"cannot parse {path}: {why}; fix it first, nothing was written") from None
    if not isinstance(data, dict):
        raise BadInput(f"cannot parse {path}: not a JSON object; nothing was written")
    hooks = data.get("hooks")
    if hooks is not None and not isinstance(hooks, dict):
        raise BadInput(f'cannot parse {path}: "hooks" is not an object; nothing was written')
    for event, groups in (hooks or {}).items():
        if not isinstance(groups, list):
            raise BadInput(f"cannot parse {path}: hooks.{event} is not a list; nothing was written")
    return data


def _strip_ours(data: dict, extra: str | None) -> int:
    """Remove termbridge's handlers from DATA["hooks"] (dropping groups and events left empty); how many."""
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return 0
    removed = 0
    for event in list(hooks):
        groups = hooks[event]
        kept_groups = []
        for g in groups:
            if isinstance(g, dict) and isinstance(g.get("hooks"), list):
                kept = [h for h in g["hooks"] if not (isinstance(h, dict) and is_ours(h.get("command"), extra))]
                removed += len(g["hooks"]) - len(kept)
                if not kept and g["hooks"]:
                    continue  # a group that held only termbridge's handlers
                g = dict(g, hooks=kept)
            kept_groups.append(g)
        if kept_groups:
            hooks[event] = kept_groups
        else:
            del hooks[event]
    if not hooks:
        del data["hooks"]
    return removed


def _handler(agent: str, event: str, command: str) -> dict:
    h = {"type": "command", "command": f"{command} hook {event} --agent {agent}", "timeout": _TIMEOUT[agent]}
    if agent == "gemini":
        h = {"name": f"termbridge-{event}", **h}  # a name for Gemini's /hooks list and hooksConfig.disabled
    return h


def _dump(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _codex_config_change(enable: bool) -> tuple[FileChange | None, list[str]]:
    """The `[features] codex_hooks = true` edit of $CODEX_HOME/config.toml (tomlkit keeps comments)."""
    import tomlkit

    path = codex_home() / "config.toml"
    real = Path(os.path.realpath(path))  # a symlinked config.toml (dotfiles) is edited where it lives
    text = _read(real)
    try:
        doc = tomlkit.parse(text or "")
    except Exception as e:  # noqa: BLE001 - tomlkit raises several parse error types
        raise BadInput(f"cannot parse {path}: {e}; fix it first, nothing was written") from None
    notes = []
    features = doc.get("features")
    if features is not None and not isinstance(features, dict):
        raise BadInput(f"cannot parse {path}: [features] is not a table; nothing was written")
    if features is not None and features.get("hooks") is False:
        notes.append(f"{path} has [features] hooks = false, which turns every Codex hook off")
    if not enable or (features is not None and features.get("codex_hooks") is True):
        return None, notes
    if features is None:
        features = tomlkit.table()
        doc["features"] = features
    features["codex_hooks"] = True
    return FileChange(real, text, tomlkit.dumps(doc)), notes


def _has_space(s: str) -> bool:
    return any(c.isspace() for c in s)


def _command(command: str) -> str:
    """The --command as written into the settings: a bare name stays bare (found on the agent's
    PATH), a path is made absolute, and either is shell-quoted; a command line with arguments
    (`python3 -m termbridge`) is kept as given."""
    cmd = command.strip()
    expanded = os.path.expanduser(cmd)
    one_path = os.path.exists(expanded) or (os.sep in expanded and not _has_space(os.path.basename(expanded)))
    if _has_space(cmd) and not one_path:
        return cmd  # `python3 -m termbridge`, `/usr/bin/python3 -m termbridge`
    if os.sep in expanded:
        expanded = os.path.abspath(expanded)
    return shlex.quote(expanded)


def plan(agent: str, action: str, project: bool = False, command: str | None = None, cwd: Path | None = None) -> Plan:
    """What `hooks ACTION --agent AGENT` would write (nothing is written here)."""
    if agent not in AGENTS:
        raise BadInput(f"invalid agent {agent!r}: one of {', '.join(AGENTS)}")
    if action not in ("install", "uninstall"):
        raise BadInput(f"invalid action {action!r}")
    path = settings_path(agent, project, cwd)
    real = Path(os.path.realpath(path))  # a symlinked settings file (dotfiles) is edited where it lives
    text = _read(real)
    data = _parse_settings(path, text)
    cmd = _command(command) if command else termbridge_command()
    result = Plan(agent, action)
    config_change, notes = _codex_config_change(action == "install") if agent == "codex" else (None, [])
    removed = _strip_ours(data, _split1(cmd)[0] if _split1(cmd) else None)
    if action == "install":
        hooks = data.setdefault("hooks", {})
        for event, agent_event in AGENT_EVENTS[agent].items():
            hooks.setdefault(agent_event, []).append({"hooks": [_handler(agent, event, cmd)]})
            result.summary.append(f"{agent_event}: {cmd} hook {event} --agent {agent}")
    if action == "install" or removed:
        result.files.append(FileChange(real, text, _dump(data)))
    elif text is not None:
        result.files.append(FileChange(real, text, text))  # nothing of ours there: unchanged
    if config_change is not None:
        result.files.append(config_change)
    result.notes.extend(notes)
    if agent == "codex" and action == "install":
        result.notes.append(CODEX_TRUST_NOTE)
    if agent == "codex" and action == "uninstall":
        result.notes.append(
            f"[features] codex_hooks in {codex_home() / 'config.toml'} is left as it is (other hooks may need it)"
        )
    if agent == "gemini" and action == "install":
        enabled = (data.get("hooksConfig") or {}).get("enabled") if isinstance(data.get("hooksConfig"), dict) else None
        if enabled is False:
            result.notes.append(f"{path} has hooksConfig.enabled = false: Gemini CLI runs no hooks until it is true")
    return result


def apply(p: Plan) -> list[Path]:
    """Write P's changed files (each backed up first to `<file>.termbridge-backup`); the files written."""
    from termbridge import paths

    written = []
    for fc in p.files:
        if not fc.changed:
            continue
        fc.path.parent.mkdir(parents=True, exist_ok=True)
        mode = 0o600
        if fc.before is not None:
            backup = fc.path.with_name(fc.path.name + ".termbridge-backup")
            mode = os.stat(fc.path).st_mode & 0o777
            _write_atomic(backup, fc.before.encode("utf-8"), mode, paths)
        _write_atomic(fc.path, fc.after.encode("utf-8"), mode, paths)
        written.append(fc.path)
    return written


def _write_atomic(path: Path, data: bytes, mode: int, paths) -> None:
    tmp = path.with_name(f".{path.name}.tb-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        paths.write_all(fd, data)
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    paths.fsync_dir(path.parent)


# ---------------------------------------------------------------- reading back (doctor)
def installed_handlers(agent: str, data: dict) -> list[tuple[str, int, int, dict]]:
    """termbridge's handlers in a parsed settings DATA: (agent event, group index, handler index, handler)."""
    out: list[tuple[str, int, int, dict]] = []
    hooks = data.get("hooks") if isinstance(data, dict) else None
    if not isinstance(hooks, dict):
        return out
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            continue
        for gi, g in enumerate(groups):
            if isinstance(g, dict) and isinstance(g.get("hooks"), list):
                for hi, h in enumerate(g["hooks"]):
                    if isinstance(h, dict) and is_ours(h.get("command")):
                        out.append((event, gi, hi, h))
    return out


def read_settings(path: Path) -> dict | None:
    """PATH parsed, or None when it is missing; BadInput when it does not parse."""
    text = _read(path)
    if text is None:
        return None
    return _parse_settings(path, text)
