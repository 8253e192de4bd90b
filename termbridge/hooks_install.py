"""`termbridge hooks install|uninstall`: merge termbridge's hooks into each agent's own settings.

  claude  ~/.claude/settings.json   (--project: ./.claude/settings.json)
  codex   $CODEX_HOME/hooks.json    (--project: ./.codex/hooks.json), plus
          `[features] hooks = true` in $CODEX_HOME/config.toml
  gemini  ~/.gemini/settings.json   (--project: ./.gemini/settings.json)

Every other hook and key is kept, and so is the file's layout: the JSON is edited in place
(jsonc.py), so an install followed by an uninstall leaves the file byte for byte as it was.
Gemini's settings may hold `//` and `/* */` comments (Gemini CLI reads them); Claude Code and
Codex read plain JSON only, so a comment there is refused like any file that does not parse
(BadInput, nothing written). Re-running changes nothing. Before termbridge first changes a file
of the person's, it copies it to `<file>.termbridge-backup`, and it never overwrites that
backup later. A file termbridge created is marked by `<file>.termbridge-created` (no backup:
there was nothing to back up); uninstall removes such a file again when nothing else is in it
(and a Codex hooks.json that holds nothing once termbridge's hooks are gone). termbridge's own
entries are recognised by their command: a `termbridge` program (or the --command given)
running `hook …`, or the older `register`/`mark` snippet lines, which an install replaces.

The one thing uninstall does not put back is an empty object or list that only termbridge's
hooks filled (`"hooks": {}`, `"Stop": []`, whitespace inside an empty `{ }`): it goes with them.

Codex keeps the trust a person gave to each hook in its config.toml
(`[hooks.state."<hooks.json>:<event>:<group>:<handler>"] trusted_hash = …`); uninstall removes
the entries of termbridge's own hooks there, and only those. Install never trusts anything.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from termbridge import jsonc
from termbridge.errors import BadInput, TermbridgeError
from termbridge.hooks import AGENT_EVENTS, AGENTS, EVENTS

# Seconds for claude and codex, milliseconds for gemini (each agent's own unit).
_TIMEOUT = {"claude": 10, "codex": 10, "gemini": 10000}
CODEX_TRUST_NOTE = (
    "Codex runs new or changed hooks only after you trust them once: start codex and "
    'pick "Trust all and continue" in its "Hooks need review" screen. termbridge never trusts '
    "hooks for you."
)
BACKUP_SUFFIX = ".termbridge-backup"
CREATED_SUFFIX = ".termbridge-created"
_OUR_VERBS = ("register", "mark")  # the 0.1 snippets' lines
_OUR_HOOKS = (*EVENTS, "claude-stop")
_PYTHON = re.compile(r"^python[0-9.]*$")
# Which agents read comments (and, as JSONC, trailing commas) in their settings: measured,
# Claude Code 2.1.332 shows "Invalid or malformed JSON" and skips the file; Codex reads serde JSON.
_JSONC = {"claude": False, "codex": False, "gemini": True}


@dataclass
class FileChange:
    path: Path
    before: str | None  # None: the file did not exist
    after: str | None  # None: the file is removed
    outcome: str = ""  # set by apply: created, updated or removed
    backup: Path | None = None  # set by apply: the backup of the person's original, when there is one

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                (self.before or "").splitlines(keepends=True),
                (self.after or "").splitlines(keepends=True),
                fromfile=str(self.path) if self.before is not None else "/dev/null",
                tofile=str(self.path) if self.after is not None else "/dev/null",
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
        with open(path, encoding="utf-8", newline="") as f:  # newline="": CRLF files stay CRLF
            return f.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"cannot read {path}: {e}") from None


def _load(path: Path, agent: str, text: str) -> jsonc.Document:
    """TEXT of AGENT's settings at PATH, parsed as that agent reads it; BadInput when it does not parse
    or its `hooks` do not have the agents' shape (an object of event -> list)."""

    def refuse(why: str) -> BadInput:
        return BadInput(f"cannot parse {path}: {why}; fix it first, nothing was written")

    try:
        doc = jsonc.parse(text, comments=_JSONC[agent], trailing_commas=_JSONC[agent])
    except jsonc.JsoncError as e:
        raise refuse(str(e)) from None
    root = doc.root
    if not root.is_object:
        raise BadInput(f"cannot parse {path}: not a JSON object; nothing was written")
    assert root.keys is not None
    if root.keys.count("hooks") > 1:
        raise refuse('"hooks" appears twice')
    hooks = root.member("hooks")
    if hooks is None or hooks.value is None:
        return doc
    if not hooks.is_object:
        raise BadInput(f'cannot parse {path}: "hooks" is not an object; nothing was written')
    assert hooks.keys is not None and hooks.items is not None
    for event, groups in zip(hooks.keys, hooks.items, strict=True):
        if hooks.keys.count(event) > 1:
            raise refuse(f"hooks.{event} appears twice")
        if not groups.is_array:
            raise BadInput(f"cannot parse {path}: hooks.{event} is not a list; nothing was written")
        for group in groups.items or []:
            if group.is_object and (group.keys or []).count("hooks") > 1:
                raise refuse(f'a group in hooks.{event} has "hooks" twice')
    return doc


def _handler(agent: str, event: str, command: str) -> dict:
    h = {"type": "command", "command": f"{command} hook {event} --agent {agent}", "timeout": _TIMEOUT[agent]}
    if agent == "gemini":
        h = {"name": f"termbridge-{event}", **h}  # a name for Gemini's /hooks list and hooksConfig.disabled
    return h


def _wanted(agent: str, command: str) -> dict[str, dict]:
    """AGENT's event name -> termbridge's handler for it."""
    return {agent_event: _handler(agent, event, command) for event, agent_event in AGENT_EVENTS[agent].items()}


def _dump(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- the edit, as data and as text
def _strip_ours(data: dict, extra: str | None) -> int:
    """Remove termbridge's handlers from DATA["hooks"]; a group, event list or `hooks` object that
    this empties goes too (one that was empty before stays). How many handlers were removed."""
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
                gone = len(g["hooks"]) - len(kept)
                removed += gone
                if gone and not kept:
                    continue
                if gone:
                    g = dict(g, hooks=kept)
            kept_groups.append(g)
        if groups and not kept_groups:
            del hooks[event]
        else:
            hooks[event] = kept_groups
    if removed and not hooks:
        del data["hooks"]
    return removed


def _next_removal(root: jsonc.Node, extra: str | None) -> tuple[jsonc.Node, int] | None:
    """The next item to cut from the text for _strip_ours: (container, index), the cut widened to
    the enclosing group, event or `hooks` member when it would leave that empty."""
    hooks = root.member("hooks")
    if hooks is None or not hooks.is_object:
        return None
    for ei, event in enumerate(hooks.items or []):
        for gi, group in enumerate(event.items or []):
            handlers = group.member("hooks") if group.is_object else None
            if handlers is None or not handlers.is_array:
                continue
            items = handlers.items or []
            ours = [
                i for i, h in enumerate(items) if isinstance(h.value, dict) and is_ours(h.value.get("command"), extra)
            ]
            if not ours:
                continue
            if len(ours) < len(items):
                return handlers, ours[0]
            if len(event.items or []) > 1:
                return event, gi
            if len(hooks.items or []) > 1:
                return hooks, ei
            return root, root.index("hooks")
    return None


def _edit_text(path: Path, agent: str, doc: jsonc.Document, extra: str | None, add: dict[str, dict] | None) -> str:
    """DOC's text with termbridge's handlers removed and, with ADD, the new ones appended, edited
    in place; checked against the same edit made on the parsed data."""
    expected = copy.deepcopy(doc.value)
    _strip_ours(expected, extra)
    if add is not None:
        if not isinstance(expected.get("hooks"), dict):
            expected["hooks"] = {}
        for event, handler in add.items():
            expected["hooks"].setdefault(event, []).append({"hooks": [handler]})

    def reparse(text: str) -> jsonc.Document:
        return jsonc.parse(text, comments=_JSONC[agent], trailing_commas=_JSONC[agent])

    text = doc.text
    while (cut := _next_removal(doc.root, extra)) is not None:
        text = jsonc.remove_item(doc, *cut)
        doc = reparse(text)
    if add is not None:
        hooks = doc.root.member("hooks")
        groups = {event: [{"hooks": [handler]}] for event, handler in add.items()}
        if hooks is None:
            text = jsonc.append_item(doc, doc.root, groups, key="hooks")
        elif hooks.value is None:
            text = jsonc.replace_value(doc, hooks, groups)
        else:
            for event, group in groups.items():
                hooks = doc.root.member("hooks")
                assert hooks is not None
                events = hooks.member(event)
                if events is None:
                    text = jsonc.append_item(doc, hooks, group, key=event)
                else:
                    text = jsonc.append_item(doc, events, group[0])
                doc = reparse(text)
        doc = reparse(text)
    if doc.value != expected:  # an editing bug, never the person's file: refuse rather than write it
        raise TermbridgeError(f"could not edit {path} in place (a termbridge bug); nothing was written")
    return text


def _already_installed(data: dict, wanted: dict[str, dict], extra: str | None) -> bool:
    """Whether exactly termbridge's wanted handlers are there, each in a group of its own."""
    found = installed_handlers("", data, extra)
    if len(found) != len(wanted) or {event for event, _, _, _ in found} != set(wanted):
        return False
    return all(wanted[event] == h and data["hooks"][event][gi] == {"hooks": [h]} for event, gi, _, h in found)


def _snake(event: str) -> str:
    """Codex's name for an event in its trust keys: SessionStart -> session_start."""
    return "".join("_" + c.lower() if c.isupper() else c for c in event).lstrip("_")


def _positions(text: str | None, extra: str | None) -> dict[tuple[str, str, str], dict]:
    """termbridge's handlers in a Codex hooks.json TEXT by trust position (event, group, handler)."""
    if text is None or not text.strip():
        return {}
    data = jsonc.parse(text).value
    return {(_snake(ev), str(gi), str(hi)): h for ev, gi, hi, h in installed_handlers("codex", data, extra)}


# ---------------------------------------------------------------- Codex's config.toml
def _codex_config_change(
    action: str, hooks_file: Path, gone: set[tuple[str, str, str]]
) -> tuple[FileChange | None, list[str], int]:
    """The edit of $CODEX_HOME/config.toml (tomlkit keeps comments and layout): on install, the
    feature flag `[features] hooks = true` (replacing the deprecated `codex_hooks = true`); on both,
    the trust entries of termbridge's hooks that are GONE from HOOKS_FILE. (change, notes, entries removed)"""
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
    flag = features.get("hooks") if features is not None else None
    old = features.get("codex_hooks") if features is not None else None
    if flag is False or (flag is None and old is False):
        key = "hooks" if flag is False else "codex_hooks"
        notes.append(f"{path} has [features] {key} = false, which turns every Codex hook off")
    elif action == "install":
        if features is None:
            features = tomlkit.table()
            doc["features"] = features
        if flag is True and old is True:
            del features["codex_hooks"]  # the deprecated twin: Codex warns about it at every start
        elif flag is None and old is True:
            _rename_key(features, "codex_hooks", "hooks")
        elif flag is None:
            features["hooks"] = True
    elif flag is True or old is True:
        notes.append(f"[features] hooks in {path} is left on (other hooks may need it)")
    dropped = _drop_trust(doc, hooks_file, gone)
    after = tomlkit.dumps(doc)
    if after == (text or ""):
        return None, notes, 0
    return FileChange(real, text, after), notes, dropped


def _rename_key(table: Any, old: str, new: str) -> None:
    """Rename OLD to NEW where it stands, keeping its value and its comment."""
    try:
        table.value._replace(old, new, table.value.item(old))  # tomlkit: in place (no public rename)
    except Exception:  # noqa: BLE001 - a tomlkit without it: the key moves to the table's end
        value = table[old]
        del table[old]
        table[new] = value


def _drop_trust(doc: Any, hooks_file: Path, gone: set[tuple[str, str, str]]) -> int:
    """Remove Codex's `[hooks.state."<file>:<event>:<group>:<handler>"]` entries for GONE positions
    of HOOKS_FILE (its path as written or resolved); drop tables this empties. How many."""
    tables = doc.get("hooks")
    state = tables.get("state") if isinstance(tables, dict) else None
    if not gone or not isinstance(state, dict):
        return 0
    target = os.path.realpath(hooks_file)
    dropped = 0
    for key in list(state.keys()):
        parts = str(key).rsplit(":", 3)
        if len(parts) == 4 and os.path.realpath(parts[0]) == target and tuple(parts[1:]) in gone:
            del state[key]
            dropped += 1
    if dropped and not state:
        del tables["state"]
        if not tables:
            del doc["hooks"]
    return dropped


# ---------------------------------------------------------------- plan and apply
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


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _trailing_comma_notes(path: Path, doc: jsonc.Document) -> list[str]:
    if not doc.trailing_commas:
        return []
    where = jsonc.position(doc.text, doc.trailing_commas[0])
    return [f"{path} has a trailing comma at {where}: Gemini CLI stops at start-up on it; remove it"]


def plan(agent: str, action: str, project: bool = False, command: str | None = None, cwd: Path | None = None) -> Plan:
    """What `hooks ACTION --agent AGENT` would write (nothing is written here)."""
    if agent not in AGENTS:
        raise BadInput(f"invalid agent {agent!r}: one of {', '.join(AGENTS)}")
    if action not in ("install", "uninstall"):
        raise BadInput(f"invalid action {action!r}")
    path = settings_path(agent, project, cwd)
    real = Path(os.path.realpath(path))  # a symlinked settings file (dotfiles) is edited where it lives
    text = _read(real)
    cmd = _command(command) if command else termbridge_command()
    extra = _split1(cmd)[0] if _split1(cmd) else None
    wanted = _wanted(agent, cmd)
    add = wanted if action == "install" else None
    result = Plan(agent, action)
    doc = _load(path, agent, text) if text is not None and text.strip() else None
    after: str | None
    if doc is None:
        after = _dump({"hooks": {event: [{"hooks": [h]}] for event, h in wanted.items()}}) if add else text
    elif add is not None and _already_installed(doc.value, wanted, extra):
        after = text
    else:
        after = _edit_text(path, agent, doc, extra, add)
        emptied = add is None and after != text and jsonc.holds_nothing(jsonc.parse(after, True, True))
        ours = agent == "codex" or os.path.lexists(_sibling(real, CREATED_SUFFIX))
        if emptied and ours and not os.path.islink(path):  # a link (dotfiles) would be left dangling
            after = None  # a file termbridge created (or Codex's hooks-only file) that holds nothing now
    if add is not None:
        result.summary += [f"{event}: {h['command']}" for event, h in wanted.items()]
    if text is not None or after is not None:
        result.files.append(FileChange(real, text, after))
    if agent == "codex":
        before_ours, after_ours = _positions(text, extra), _positions(after, extra)
        gone = {pos for pos, h in before_ours.items() if after_ours.get(pos) != h}
        change, notes, dropped = _codex_config_change(action, path, gone)
        if change is not None:
            result.files.append(change)
            if dropped:
                result.notes.append(f"removed Codex's trust entries of {dropped} termbridge hook(s) from {change.path}")
        result.notes += notes
        if action == "install":
            result.notes.append(CODEX_TRUST_NOTE)
    if agent == "gemini" and doc is not None:
        result.notes += _trailing_comma_notes(path, doc)
        hc = doc.value.get("hooksConfig")
        if action == "install" and isinstance(hc, dict) and hc.get("enabled") is False:
            result.notes.append(f"{path} has hooksConfig.enabled = false: Gemini CLI runs no hooks until it is true")
    return result


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _created_digest(marker: Path) -> str | None:
    """The digest of what termbridge last wrote into the file it created (from its marker)."""
    try:
        last = marker.read_text(encoding="utf-8").strip().splitlines()[-1]
    except (OSError, UnicodeDecodeError, IndexError):
        return None
    return last.split()[-1] if last.startswith("sha256 ") else None


def apply(p: Plan) -> list[Path]:
    """Write P's changed files; the files written. The first time termbridge changes a file of the
    person's it copies it to `<file>.termbridge-backup`, which it never overwrites; a file it
    creates gets a `<file>.termbridge-created` marker instead (holding the digest of what termbridge
    last wrote, so a file the person made anew later is backed up like any other)."""
    from termbridge import paths

    written = []
    for fc in p.files:
        if not fc.changed:
            continue
        backup, marker = _sibling(fc.path, BACKUP_SUFFIX), _sibling(fc.path, CREATED_SUFFIX)
        if fc.after is None:
            os.unlink(fc.path)
            if os.path.lexists(marker):
                os.unlink(marker)
            paths.fsync_dir(fc.path.parent)
            fc.outcome = "removed"
        else:
            fc.path.parent.mkdir(parents=True, exist_ok=True)
            mode = 0o600
            ours = fc.before is None
            if fc.before is not None:
                mode = os.stat(fc.path).st_mode & 0o777
                ours = _created_digest(marker) == _digest(fc.before)
                if not ours and not os.path.lexists(backup):
                    _write_atomic(backup, fc.before.encode("utf-8"), mode, paths)
            _write_atomic(fc.path, fc.after.encode("utf-8"), mode, paths)
            if ours or os.path.lexists(marker):
                note = (
                    f"termbridge hooks install created {fc.path.name} (there was none); "
                    "`termbridge hooks uninstall` removes it again when nothing else is in it.\n"
                )
                _write_atomic(marker, (note + f"sha256 {_digest(fc.after)}\n").encode("utf-8"), 0o600, paths)
            fc.outcome = "created" if fc.before is None else "updated"
        fc.backup = backup if os.path.lexists(backup) else None
        written.append(fc.path)
    return written


def describe(fc: FileChange) -> str:
    """One line for a file apply wrote."""
    if fc.outcome == "removed":
        return f"removed {fc.path} (termbridge's hooks were all that was in it)"
    if fc.outcome == "created":
        return f"created {fc.path}"
    return f"updated {fc.path}" + (f" (your original is kept in {fc.backup})" if fc.backup else "")


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
def installed_handlers(agent: str, data: Any, extra: str | None = None) -> list[tuple[str, int, int, dict]]:
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
                    if isinstance(h, dict) and is_ours(h.get("command"), extra):
                        out.append((event, gi, hi, h))
    return out


def read_settings(path: Path, agent: str) -> tuple[dict | None, list[str]]:
    """AGENT's settings at PATH parsed as the agent reads them (None when the file is missing), and
    what would stop the agent reading them; BadInput when they do not parse."""
    text = _read(path)
    if text is None:
        return None, []
    if not text.strip():
        return {}, []
    doc = _load(path, agent, text)
    return doc.value, _trailing_comma_notes(path, doc) if agent == "gemini" else []
