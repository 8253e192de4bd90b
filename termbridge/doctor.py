"""`termbridge doctor`: what is set up, what is broken, and how to fix it."""

from __future__ import annotations

import os
import re
import shutil
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from termbridge.outcome import Outcome

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

OK, FAIL, WARN, SKIP = "ok", "fail", "warn", "skip"
MARKS = {OK: "✓", FAIL: "✗", WARN: "!", SKIP: "-"}


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def _tmux_checks() -> list[Check]:
    from termbridge.errors import TmuxError
    from termbridge.tmux_cmd import no_server, run_tmux, socket_path

    if shutil.which("tmux") is None:
        return [Check("tmux", FAIL, "tmux is not installed", "apt-get install tmux (or brew install tmux)")]
    try:
        version = run_tmux("-V").strip()
    except TmuxError as e:  # installed but not runnable (or hung): say so, as for the server below
        return [Check("tmux", FAIL, str(e), "reinstall tmux")]
    m = re.search(r"(\d+)\.(\d+)", version)
    checks = []
    if m and (int(m.group(1)), int(m.group(2))) < (3, 2):
        checks.append(Check("tmux", WARN, f"{version}: focus drains need tmux >= 3.2 (#{{hook_pane}})", "upgrade tmux"))
    else:
        checks.append(Check("tmux", OK, version))
    where = socket_path() or "the default server"
    try:
        focus = run_tmux("show-options", "-gv", "focus-events").strip()
    except TmuxError as e:
        if no_server(e):
            return checks + [Check("tmux server", SKIP, f"no tmux server running on {where}; server checks skipped")]
        return checks + [Check("tmux server", FAIL, str(e), "check TERMBRIDGE_TMUX_SOCKET / $TMUX")]
    checks.append(
        Check(
            "focus-events",
            OK if focus == "on" else FAIL,
            f"focus-events is {focus or 'off'} on {where}",
            "" if focus == "on" else "tmux set -g focus-events on (the termbridge plugin sets it)",
        )
    )
    keys = run_tmux("list-keys", "-T", "prefix")
    hooks = run_tmux("show-hooks", "-g", "pane-focus-in")
    loaded = "drain.sh" in keys or "drain.sh" in hooks
    checks.append(
        Check(
            "tmux plugin",
            OK if loaded else FAIL,
            "loaded (prefix key and pane-focus-in hook)" if loaded else f"not loaded on {where}",
            ""
            if loaded
            else "add `run-shell '$(termbridge paths tmux)'` to ~/.tmux.conf (or `set -g @plugin` with TPM) and reload",
        )
    )
    return checks


def _kitty_check() -> Check:
    from termbridge.backends.kitty import address
    from termbridge.errors import KittyError
    from termbridge.kitty_rc import KittyClient

    addr = address()
    if not addr:
        return Check("kitty", SKIP, "no kitty socket configured (TERMBRIDGE_KITTY_SOCKET / KITTY_LISTEN_ON)")
    try:
        n = sum(len(t["windows"]) for osw in KittyClient(addr, timeout=2).ls() for t in osw["tabs"])
    except KittyError as e:
        return Check(
            "kitty",
            FAIL,
            str(e),
            'ln -sfn "$(termbridge paths kitty)" ~/.config/kitty/termbridge and add '
            "`include termbridge/termbridge.conf` to kitty.conf (remote control on a socket)",
        )
    return Check("kitty", OK, f"remote control reachable at {addr} ({n} windows)")


def _state_check(home: StrPath) -> Check:
    try:
        st = os.lstat(home)
    except FileNotFoundError:
        return Check("state", OK, f"{home} will be created on first use (0700)")
    bad = []
    for root, dirs, files in os.walk(home):
        for n in dirs + files:
            p = os.path.join(root, n)
            s = os.lstat(p)
            if stat.S_ISLNK(s.st_mode):
                bad.append(f"{p} is a symlink")
            elif s.st_uid != os.geteuid():
                bad.append(f"{p} is owned by uid {s.st_uid}")
            elif stat.S_ISDIR(s.st_mode) and s.st_mode & 0o077:
                bad.append(f"{p} is mode {stat.S_IMODE(s.st_mode):o}, not 700")
            elif stat.S_ISREG(s.st_mode) and s.st_mode & 0o077:
                bad.append(f"{p} is mode {stat.S_IMODE(s.st_mode):o}, not 600")
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        bad.insert(0, f"{home} must be a directory of ours, mode 700")
    if bad:
        more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
        return Check("state", FAIL, bad[0] + more, f"chmod -R go-rwx {home}; remove symlinks and foreign files in it")
    return Check("state", OK, f"{home} (0700 directories, 0600 files, no symlinks)")


def _config_check() -> Check:
    from termbridge.config import _cache, config_path, load_config
    from termbridge.errors import ConfigError

    _cache.clear()
    path = config_path()
    try:
        load_config()
    except ConfigError as e:
        return Check("config", FAIL, str(e), f"fix or remove {path}")
    return Check("config", OK, f"{path}" if os.path.exists(path) else f"defaults ({path} does not exist)")


def _hook_checks() -> list[Check]:
    """Per agent on PATH: termbridge's hooks installed (user or project settings), enabled, trusted (Codex)."""
    from termbridge import hooks_install as hi
    from termbridge.errors import BadInput
    from termbridge.hooks import AGENT_EVENTS
    from termbridge.kinds import AGENT_KINDS

    out = []
    for agent in AGENT_KINDS:
        if shutil.which(agent) is None:
            continue
        name = f"{agent} hooks"
        fix = f"termbridge hooks install --agent {agent}"
        found, problems, where = [], [], []
        user, proj = hi.settings_path(agent, False), hi.settings_path(agent, True)
        for path in [user] + ([proj] if os.path.realpath(proj) != os.path.realpath(user) else []):
            try:
                data, unreadable = hi.read_settings(path, agent)
            except BadInput as e:
                problems.append((FAIL, str(e), f"fix {path}"))
                continue
            problems += [(FAIL, why, f"fix {path}") for why in unreadable]
            mine = hi.installed_handlers(agent, data or {})
            if mine:
                where.append(str(path))
                found += [(path, data, m) for m in mine]
        events = {ev for _, _, (ev, _, _, _) in found}
        wanted = set(AGENT_EVENTS[agent].values())
        if not found:
            out += [Check(name, s, d, f) for s, d, f in problems] or [
                Check(name, SKIP, f"{agent} is on PATH; termbridge's hooks are not installed", fix)
            ]
            continue
        for _, _, (_, _, _, h) in found:
            prog = hi._split1(h.get("command", ""))[:1]
            if prog and os.path.isabs(prog[0]) and not os.path.exists(prog[0]):
                problems.append((WARN, f"the hook command {prog[0]} no longer exists", f"{fix} (rewrites the path)"))
                break
        if any(" hook " not in h.get("command", "") for _, _, (_, _, _, h) in found) or wanted - events:
            problems.append((WARN, f"old or partial termbridge hooks ({', '.join(sorted(events))})", fix))
        if agent == "codex":
            problems += _codex_hook_state(found)
        if agent == "gemini":
            problems += _gemini_hook_state(found)
        for status, detail, f in problems:
            out.append(Check(name, status, detail, f))
        if not any(s in (FAIL, WARN) for s, _, _ in problems):
            out.append(Check(name, OK, f"{', '.join(sorted(events))} in {', '.join(where)}"))
    return out


def _codex_hook_state(found) -> list[tuple[str, str, str]]:
    """Codex: the feature flag, and each termbridge hook's trust state in config.toml (hooks.state)."""
    import tomllib

    from termbridge import hooks_install as hi

    path = hi.codex_home() / "config.toml"
    try:
        cfg = tomllib.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError) as e:
        return [(FAIL, f"cannot parse {path}: {e}", f"fix {path}")]
    out = []
    features = cfg.get("features")
    if not isinstance(features, dict):
        features = {}
    # `hooks` is the flag's name since Codex 0.171; the older `codex_hooks` still works (with a
    # deprecation warning at every start), so either one turns hooks on.
    enabled = features.get("hooks", features.get("codex_hooks"))
    if enabled is False:
        out.append((FAIL, f"hooks are turned off in {path} [features]", "set [features] hooks = true"))
    elif enabled is not True:
        out.append(
            (
                WARN,
                f"[features] hooks is not set in {path} (Codex 0.171 runs no hooks without it)",
                "termbridge hooks install --agent codex",
            )
        )
    elif "codex_hooks" in features:
        out.append(
            (
                WARN,
                f"{path} uses the deprecated [features] codex_hooks (Codex warns about it at every start)",
                "termbridge hooks install --agent codex (it writes [features] hooks = true instead)",
            )
        )
    states = (cfg.get("hooks") or {}).get("state") if isinstance(cfg.get("hooks"), dict) else None
    states = states if isinstance(states, dict) else {}
    untrusted, disabled = [], []
    for src, _, (event, gi, hi_, _) in found:
        snake = "".join("_" + c.lower() if c.isupper() else c for c in event).lstrip("_")
        st = states.get(f"{os.path.realpath(src)}:{snake}:{gi}:{hi_}") or states.get(f"{src}:{snake}:{gi}:{hi_}") or {}
        if st.get("enabled") is False:
            disabled.append(event)
        elif not st.get("trusted_hash"):
            untrusted.append(event)
    if disabled:
        out.append((WARN, f"disabled in Codex: {', '.join(disabled)}", "enable them in codex's /hooks"))
    if untrusted:
        out.append(
            (
                WARN,
                f"not trusted yet in Codex: {', '.join(untrusted)}",
                'start codex and pick "Trust all and continue" in its "Hooks need review" screen',
            )
        )
    return out


def _gemini_hook_state(found) -> list[tuple[str, str, str]]:
    """Gemini CLI: hooksConfig.enabled (default true) and hooksConfig.disabled (hook names or commands)."""
    out = []
    for path, data, (event, _, _, h) in found:
        hc = data.get("hooksConfig")
        if not isinstance(hc, dict):
            hc = {}
        if hc.get("enabled") is False:
            out.append(
                (
                    FAIL,
                    f"hooksConfig.enabled is false in {path}: Gemini CLI runs no hooks",
                    f"set hooksConfig.enabled to true in {path}",
                )
            )
            break
        off = hc.get("disabled")
        if not isinstance(off, list):
            off = []
        if h.get("name") in off or h.get("command") in off:
            out.append(
                (WARN, f"{event} hook is in hooksConfig.disabled in {path}", "remove it from hooksConfig.disabled")
            )
    return out


def _configured_path_check(env: dict | None = None) -> Check:
    """The paths tmux and kitty were configured with still exist: a reinstall, a new Python
    or a moved clone leaves the plugins running a termbridge (or files) that is gone."""
    import shlex

    env = dict(os.environ) if env is None else env
    seen: list[str] = []
    gone: list[str] = []

    def command(value: str, where: str) -> None:  # a command line: its first word must run
        try:
            word = shlex.split(value)[0]
        except (ValueError, IndexError):
            gone.append(f"{where} is {value!r}, not a command")
            return
        seen.append(where)
        found = (
            os.path.isfile(word) and os.access(word, os.X_OK)
            if "/" in word
            else shutil.which(word, path=env.get("PATH"))
        )
        if not found:
            gone.append(f"{where} runs {word}, which does not exist")

    def path(p: str, where: str) -> None:
        seen.append(where)
        if not os.path.exists(p):
            gone.append(f"{where}: {p} does not exist")

    # tmux: @termbridge-command, the termbridge recorded when the plugin loaded, the plugin's files.
    if shutil.which("tmux") is not None:
        from termbridge.errors import TmuxError
        from termbridge.tmux_cmd import run_tmux

        try:
            option = run_tmux("show-options", "-gqv", "@termbridge-command", env=env).strip()
            recorded = run_tmux("show-options", "-gqv", "@termbridge-command-path", env=env).strip()
            bound = run_tmux("list-keys", "-T", "prefix", env=env) + run_tmux(
                "show-hooks", "-g", "pane-focus-in", env=env
            )
        except TmuxError:
            option = recorded = bound = ""  # no server: _tmux_checks says so
        if option:
            command(option, "tmux @termbridge-command")
        if recorded:
            path(recorded, "tmux @termbridge-command-path (recorded when the plugin loaded)")
        for script in sorted(set(re.findall(r"'([^']*/scripts/drain\.sh)'", bound))):
            path(script, "tmux plugin binding")
    # kitty: kitty.conf's include of our snippet, the watcher and kitten it names, TERMBRIDGE_COMMAND.
    conf_dir = Path(
        env.get("KITTY_CONFIG_DIRECTORY")
        or Path(env.get("XDG_CONFIG_HOME") or Path(env.get("HOME") or "~").expanduser() / ".config") / "kitty"
    )
    files = [conf_dir / "kitty.conf"]
    for f in files:
        try:
            lines = f.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            words = line.split()
            if len(words) < 2 or words[0].startswith("#") or "termbridge" not in line.lower():
                continue
            value = os.path.expandvars(os.path.expanduser(words[-1]))
            if words[0] == "include":
                target = Path(value) if os.path.isabs(value) else f.parent / value
                path(str(target), f"kitty include in {f}")
                if target.exists() and target not in files:
                    files.append(target)
            elif words[0] == "watcher" or (words[0] == "map" and words[-2:-1] == ["kitten"]):
                path(value if os.path.isabs(value) else str(conf_dir / value), f"kitty {words[0]} in {f}")
            elif words[0] == "env" and words[1].startswith("TERMBRIDGE_COMMAND="):
                command(line.split("TERMBRIDGE_COMMAND=", 1)[1], f"kitty env TERMBRIDGE_COMMAND in {f}")
    if gone:
        more = f" (+{len(gone) - 1} more)" if len(gone) > 1 else ""
        return Check(
            "configured paths",
            WARN,
            gone[0] + more,
            "reinstall termbridge or fix the path; `termbridge paths` prints the current ones "
            '(tmux: reload tmux.conf; kitty: ln -sfn "$(termbridge paths kitty)" ~/.config/kitty/termbridge)',
        )
    if not seen:
        return Check("configured paths", SKIP, "no tmux or kitty configuration names a termbridge path")
    return Check("configured paths", OK, f"{len(seen)} configured paths exist")


def _session_checks(home: StrPath) -> list[Check]:
    from termbridge import registry, targets
    from termbridge.errors import TermbridgeError

    out = []
    for s in registry.all_sessions(home):
        try:
            tgt = targets.resolve_session(home, s, log_failure=False)
            out.append(Check(f"session {s.name}", OK, f"pid {s.pid} -> {tgt.target}"))
            out.append(_lane_check(home, s))
        except TermbridgeError as e:
            out.append(Check(f"session {s.name}", WARN, str(e), f"re-register it, or termbridge unregister {s.name}"))
    return out


def _lane_check(home: StrPath, sess) -> Check:
    """The lane SESS's messages take: native, or terminal and why (a channel missing, refusing,
    changed in shape, or paused falls back to typing: a warning only when `--lane native` asked for it)."""
    from termbridge import lanes

    c = lanes.choose(home, sess, probe=True)
    detail = f"{c.lane}" + (f": {c.reason}" if c.reason else "")
    if c.lane == "terminal" and sess.lane == "native":
        return Check(f"lane {sess.name}", WARN, detail, "its messages are typed until the channel answers again")
    return Check(f"lane {sess.name}", OK, detail)


AGENT_NAMES = {"codex": "Codex CLI", "claude": "Claude Code", "gemini": "Gemini CLI"}
VERSION_TIMEOUT_S = 5.0  # `gemini --version` starts node: ~1.5 s on an idle machine


def _ask_version(program: str, timeout: float = VERSION_TIMEOUT_S) -> tuple[str | None, str]:
    """PROGRAM --version's first line, or None and why not. The agents' launchers are scripts that
    start the real binary: on a timeout the whole process group is killed, not just the script."""
    import signal
    import subprocess

    try:
        p = subprocess.Popen(
            [program, "--version"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as e:
        return None, f"{program} --version failed: {e.strerror or e}"
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None, f"{program} --version did not answer within {timeout:g} s"
    lines = out.decode("utf-8", "replace").strip().splitlines()
    return (lines[0], "") if lines else (None, f"{program} --version printed nothing")


def _version_probes() -> dict:
    """Start `--version` of every agent found on PATH, in parallel; a missing agent is no concern."""
    from concurrent.futures import ThreadPoolExecutor

    found = {kind: shutil.which(kind) for kind in AGENT_NAMES}
    pool = ThreadPoolExecutor(max_workers=3)
    futures = {kind: pool.submit(_ask_version, path) for kind, path in found.items() if path}
    pool.shutdown(wait=False)
    return futures


def _version_checks(probes: dict) -> list[Check]:
    """The agent releases termbridge was verified against, and a warning for an installed one that is newer."""
    from termbridge.agent_versions import VERIFIED, version_tuple

    verified = ", ".join(f"{AGENT_NAMES[k]} {v}" for k, (_, v) in VERIFIED.items())
    out = [Check("agent versions", OK, f"termbridge is verified against {verified}")]
    for kind, future in probes.items():
        line, why = future.result()
        name, want = AGENT_NAMES[kind], VERIFIED[kind][1]
        have = version_tuple(line or "")
        if not have:
            out.append(Check(f"{kind} version", SKIP, why or f"{kind} --version printed no version: {line!r}"))
        elif have > version_tuple(want):
            ver = ".".join(map(str, have))
            out.append(
                Check(
                    f"{kind} version",
                    WARN,
                    f"{name} {ver} is newer than {want}, the release termbridge is verified against",
                )
            )
        else:
            ver = ".".join(map(str, have))
            detail = f"{name} {ver}" + (
                " (verified)" if have == version_tuple(want) else f" (older than the verified {want})"
            )
            out.append(Check(f"{kind} version", OK, detail))
    return out


def run_checks(home: StrPath) -> list[Check]:
    probes = _version_probes()  # they run while the other checks do
    checks = _tmux_checks() + [_kitty_check(), _state_check(home), _config_check()] + _hook_checks()
    checks += _version_checks(probes)
    checks.append(_configured_path_check())
    if not any(c.name == "config" and c.status == FAIL for c in checks):
        checks += _session_checks(home)
        from termbridge.remote import doctor_checks  # each configured host, in parallel (ssh.py)

        checks += [Check(*c) for c in doctor_checks(home)]
    return checks


class Report(Outcome):
    """What doctor found: its text and JSON forms; exit 1 when anything is broken (the checks say
    what, so there is no note)."""

    __slots__ = ("text", "data")

    def __init__(self, text: str, data: dict):
        super().__init__()
        self.text, self.data = text, data


def report(checks: list[Check]) -> Report:
    """Text, JSON and exit code (1 when anything is broken)."""
    lines = []
    for c in checks:
        lines.append(
            f"{MARKS[c.status]} {c.name}: {c.detail}"
            + (f"\n    fix: {c.fix}" if c.fix and c.status in (FAIL, WARN) else "")
        )
    broken = any(c.status == FAIL for c in checks)
    found = Report("\n".join(lines), {"ok": not broken, "checks": [asdict(c) for c in checks]})
    found.exit_code = 1 if broken else 0
    return found
