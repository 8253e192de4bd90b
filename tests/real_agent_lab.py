"""The real agents offline, for the real tiers and the screen captures: where the pinned agents
are installed (a cache outside the repository, filled by `./dev.sh test`), the one gate every
real tier uses (`needs_agents`), scratch config per agent (see docs/agents.md), a
model API stub on loopback (agent_stub.py), and the command line that starts each agent.

    .venv/bin/python tests/real_agent_lab.py install   # what ./dev.sh test runs: npm install, pinned

The agents' versions come from termbridge/agent_versions.py (one source); the cache is
${XDG_CACHE_HOME:-~/.cache}/termbridge/agents/<hash of the versions>/node_modules/.bin, made
complete atomically (installed under a temporary name, renamed when done) and reused while
the versions stay the same. TERMBRIDGE_REAL_AGENTS=<bin dir> points the tiers at other agents.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from termbridge.agent_versions import VERIFIED

KINDS = ("codex", "claude", "gemini")
VERSIONS = {kind: version for kind, (_, version) in VERIFIED.items()}
_COMPLETE = "complete.json"  # written last, inside the cache dir, before it gets its final name


def cache_root() -> Path:
    """Where installed agent sets live, outside the repository."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "termbridge" / "agents"


def versions_spec() -> dict[str, str]:
    """npm package -> pinned version, for every agent."""
    return {pkg: version for pkg, version in sorted(VERIFIED.values())}


def cache_dir() -> Path:
    """The install of exactly these versions (a new set of versions is a new directory)."""
    digest = hashlib.sha256(json.dumps(versions_spec(), sort_keys=True).encode()).hexdigest()[:12]
    return cache_root() / digest


def _failure_file() -> Path:
    return cache_dir().with_name(cache_dir().name + ".failed")


def agents_bin() -> Path | None:
    """The directory holding codex, claude and gemini: $TERMBRIDGE_REAL_AGENTS, else the complete cache."""
    explicit = os.environ.get("TERMBRIDGE_REAL_AGENTS")
    if explicit:
        return Path(explicit)
    d = cache_dir()
    return d / "node_modules" / ".bin" if (d / _COMPLETE).is_file() else None


def agents_missing() -> str:
    """Why agents_bin() is None: the install's own failure, or that nothing installed them yet."""
    try:
        failed = _failure_file().read_text().strip()
    except OSError:
        failed = ""
    if failed:
        return f"the real agents could not be installed from the npm registry: {failed}"
    return (
        f"the real agents are not installed in {cache_dir()}: `./dev.sh test` installs them "
        f"(or `python tests/real_agent_lab.py install`; TERMBRIDGE_REAL_AGENTS=<bin dir> uses others)"
    )


_BIN = agents_bin()
BIN = str(_BIN or "")
# The one gate of every real tier: skips, saying why, only when the agents are not there.
needs_agents = pytest.mark.skipif(_BIN is None, reason=agents_missing() if _BIN is None else "")


class InstallFailed(Exception):
    """npm could not install the pinned agents (no registry, no npm); the reason is kept for the skips."""


def install(timeout: float = 1200.0) -> Path:
    """Install the pinned agents into cache_dir() unless already complete; their bin directory."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a") as lock:  # two installs at once: the second waits and reuses
        fcntl.flock(lock, fcntl.LOCK_EX)
        final = cache_dir()
        if (final / _COMPLETE).is_file():
            return final / "node_modules" / ".bin"
        try:
            _npm_install(final, timeout)
        except InstallFailed as e:
            _failure_file().write_text(str(e) + "\n")
            raise
        _failure_file().unlink(missing_ok=True)
        return final / "node_modules" / ".bin"


def _npm_reason(output: str) -> str:
    """npm's own words for a failure: its error code and message, without the stack and the boilerplate."""
    keep = []
    for line in output.splitlines():
        text = line.removeprefix("npm error").removeprefix("npm ERR!").strip()
        if not text or text.startswith(("at ", "syscall", "errno", "A complete log", "If you are behind")):
            continue
        if text.startswith(("}", "{")) or "node_modules/npm/" in text:
            continue
        keep.append(text)
    return " / ".join(keep[:2]) or "no output"


def _npm_install(final: Path, timeout: float) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise InstallFailed("npm is not installed (Node.js/npm come from the machine: apt-get install nodejs npm)")
    partial = final.with_name(f".{final.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    spec = versions_spec()
    (partial / "package.json").write_text(json.dumps({"private": True, "dependencies": spec}, indent=1))
    cmd = [npm, "install", "--prefix", str(partial), "--no-audit", "--no-fund", "--prefer-offline"]
    cmd += ["--fetch-retries=1", "--fetch-timeout=60000", "--loglevel=error"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        shutil.rmtree(partial, ignore_errors=True)
        raise InstallFailed(f"`npm install` did not finish in {timeout:.0f} s") from None
    if p.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise InstallFailed(f"`npm install` exit {p.returncode}: {_npm_reason(p.stderr or p.stdout)}")
    for pkg, version in spec.items():
        try:
            got = json.loads((partial / "node_modules" / pkg / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            got = None
        if got != version:
            shutil.rmtree(partial, ignore_errors=True)
            raise InstallFailed(f"npm installed {pkg} {got}, not {version}")
    missing = [k for k in KINDS if not os.access(partial / "node_modules" / ".bin" / k, os.X_OK)]
    if missing:
        shutil.rmtree(partial, ignore_errors=True)
        raise InstallFailed(f"npm installed no {', '.join(missing)} command")
    (partial / _COMPLETE).write_text(json.dumps({"versions": spec, "t": time.time()}))
    shutil.rmtree(final, ignore_errors=True)  # an incomplete leftover of an older layout
    os.rename(partial, final)


KEY = "sk-ant-api03-dummydummydummydummydummy0123456789"
# At its composer: Claude Code 2.1.332's footer reads "⏵⏵ auto mode on" (its default) or "⏸ manual mode on".
READY = {"codex": "? for shortcuts", "claude": " mode on", "gemini": "Type your message"}
DIALOG = {
    "codex": "Would you like to run the following command?",
    "claude": "Do you want to proceed?",
    "gemini": "Allow execution",
}
TRUST = {"codex": "trust", "claude": "trust", "gemini": "trust"}
TERMS = {"screen": "env -u COLORTERM TERM=screen", "truecolor": "env COLORTERM=truecolor TERM=xterm-256color"}
DRAFT = "fix the flaky login test, then rerun it"
COMMAND = "touch /tmp/tb-approved-marker"


def not_ci() -> str:
    """`env` options that drop the CI markers from an agent's environment.

    With CI set (as CI runs the tests), Gemini CLI's Ink UI believes it runs in a CI log and
    draws nothing in the terminal: its screen stays blank. A person's terminal has no CI marker,
    so the agents run without one.
    """
    marks = [k for k in os.environ if k in ("CI", "CONTINUOUS_INTEGRATION") or k.startswith("CI_")]
    return "env " + "".join(f"-u {k} " for k in sorted(marks))


def agent_setup(
    kind: str,
    home: Path,
    work: Path,
    port: int,
    trusted: bool = True,
    manual: bool = False,
    bypass_hook_trust: bool = False,
) -> str:
    """Scratch config for KIND (docs/agents.md); the command line that starts it: an `env` call
    (without the CI markers, see not_ci) that callers may put after their own `env …`.

    Each agent runs as it ships: Codex in its stock daemon mode (the TUI is a client of a
    background `codex app-server --managed-daemon`, one per CODEX_HOME, which outlives the
    TUI: reap_codex_daemons(home) ends it), Claude Code in its default permission mode (auto).
    MANUAL puts Claude Code in manual permission mode (a tool call raises its permission
    dialog). BYPASS_HOOK_TRUST starts Codex with --dangerously-bypass-hook-trust (its hooks run
    without the review screen, but Codex then runs embedded, without the daemon).
    """
    if kind == "codex":
        (home / ".codex").mkdir(parents=True)
        trust = f'[projects."{work}"]\ntrust_level = "trusted"\n' if trusted else ""
        # An explicit approval policy skips Codex's trust screen: only the trusted runs set one.
        policy = 'approval_policy = "on-request"\nsandbox_mode = "read-only"\n' if trusted else ""
        (home / ".codex" / "config.toml").write_text(
            f'model_provider = "offline"\ncheck_for_update_on_startup = false\n{policy}'
            f'[model_providers.offline]\nname = "offline"\nbase_url = "http://127.0.0.1:{port}/v1"\n'
            f'env_key = "OPENAI_API_KEY"\nwire_api = "responses"\n'
            f"[tui]\nscreen_reader_detection_done = true\n{trust}"
        )
        _CODEX_HOMES.append(home)
        flag = " --dangerously-bypass-hook-trust" if bypass_hook_trust else ""
        return f"{not_ci()}HOME={home} CODEX_HOME={home}/.codex OPENAI_API_KEY=sk-dummy {BIN}/codex{flag}"
    if kind == "claude":
        (home / ".claude").mkdir(parents=True)
        proj = {str(work): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}} if trusted else {}
        (home / ".claude.json").write_text(
            json.dumps(
                {
                    "hasCompletedOnboarding": True,
                    "theme": "dark",
                    "customApiKeyResponses": {"approved": [KEY[-20:]], "rejected": []},
                    "projects": proj,
                }
            )
        )
        if manual:  # auto mode (the default) runs low-risk tool calls with no dialog
            # Claude Code 2.1.332 asks once, in manual mode, whether to make auto mode the
            # default (a selection dialog): these two flags say it was asked already.
            state = json.loads((home / ".claude.json").read_text())
            state.update(hasSeenAutoDefaultNudge=True, hasResetAutoModeOptInForDefaultOffer=True)
            (home / ".claude.json").write_text(json.dumps(state))
            (work / ".claude").mkdir(parents=True, exist_ok=True)
            (work / ".claude" / "settings.local.json").write_text(
                json.dumps({"permissions": {"defaultMode": "default"}})
            )
        return (
            f"{not_ci()}HOME={home} ANTHROPIC_API_KEY={KEY} ANTHROPIC_BASE_URL=http://127.0.0.1:{port} "
            # MCP tools are deferred behind ToolSearch unless ENABLE_TOOL_SEARCH=false
            f"CLAUDE_CODE_MAX_RETRIES=0 DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 "
            f"ENABLE_TOOL_SEARCH=false {BIN}/claude"
        )
    (home / ".gemini").mkdir(parents=True)
    settings: dict = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"maxAttempts": 1, "retryFetchErrors": False, "disableAutoUpdate": True},
        "model": {"name": "gemini-2.5-pro"},
        "ui": {"hideTips": True, "hideBanner": True},
    }
    if not trusted:
        settings["security"]["folderTrust"] = {"enabled": True}
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    if trusted:
        (home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(work): "TRUST_FOLDER"}))
    return (
        f"{not_ci()}HOME={home} GEMINI_API_KEY=dummy GEMINI_CLI_NO_RELAUNCH=true "
        f"GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:{port} {BIN}/gemini"
    )


def agent_env(kind: str, home: Path) -> dict[str, str]:
    """The environment a termbridge command needs to act as this agent's user (hooks install, doctor)."""
    return {**os.environ, "HOME": str(home), "CODEX_HOME": str(home / ".codex"), "PATH": f"{BIN}:{os.environ['PATH']}"}


_CODEX_HOMES: list[Path] = []


def codex_daemons(home: Path) -> list[int]:
    """The Codex background processes (app-server daemon, its updater) of the CODEX_HOME under HOME.

    Codex copies its binary into $CODEX_HOME/packages/ and runs the daemon from there, so a
    process whose executable lives under that directory belongs to this HOME and no other.
    """
    packages = str(home / ".codex" / "packages") + "/"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{entry}/exe")
        except OSError:
            continue
        if exe.removesuffix(" (deleted)").startswith(packages):
            found.append(int(entry))
    return found


def reap_codex_daemons(home: Path | None = None) -> None:
    """End the daemons Codex left behind for HOME (default: every HOME agent_setup made), by PID.

    A Codex TUI still running starts a new daemon when its daemon dies: end the TUI first. Every
    HOME stays known, so whatever a TUI started after this is ended when the test run exits."""
    for h in [home] if home is not None else list(_CODEX_HOMES):
        for _ in range(3):  # until none is left (a TUI on its way out may have started another)
            pids = codex_daemons(h)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for pid in pids:  # reaped by init: wait until they are gone so their files can be removed
                deadline = time.monotonic() + 5
                while _alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.02)
            time.sleep(0.2)


def _alive(pid: int) -> bool:
    """PID still runs (a zombie nobody reaped yet does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _reap_at_exit() -> None:
    """Whatever a test left: never outlive the test run. A Codex TUI that was ended a moment ago
    may still start a daemon as it goes: look again until none came for a second (5 s at most)."""
    if not _CODEX_HOMES:
        return
    deadline, quiet_since = time.monotonic() + 5, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - quiet_since < 1.0:
        if any(codex_daemons(h) for h in _CODEX_HOMES):
            reap_codex_daemons()
            quiet_since = time.monotonic()
        time.sleep(0.1)


atexit.register(_reap_at_exit)


WHERE = {  # where each agent records a submitted prompt (docs/agents.md)
    "claude": lambda f: f.parent.parent.name == "projects" and f.suffix == ".jsonl",
    "codex": lambda f: "sessions" in f.parts and f.name.startswith("rollout-") and f.suffix == ".jsonl",
    "gemini": lambda f: "tmp" in f.parts and (f.name == "logs.json" or f.parent.name == "chats"),
}


def _strings(obj) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _strings(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _strings(v)]
    return []


def recorded_prompts(kind: str, home: Path) -> list[str]:
    """Every string in the records KIND keeps of what was submitted to it, under its HOME (parsed JSON)."""
    out: list[str] = []
    for f in sorted(home.rglob("*")):
        if not (f.is_file() and WHERE[kind](f)):
            continue
        text = f.read_text(errors="replace")
        try:
            docs = [json.loads(text)]
        except ValueError:
            docs = []
            for line in text.splitlines():
                try:
                    docs.append(json.loads(line))
                except ValueError:
                    continue
        out += [x for d in docs for x in _strings(d)]
    return out


def session_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[3])


def tui_pid(pane_pid: int, kind: str) -> int:
    """The agent's TUI in a pane: the deepest process of KIND in the pane's own session (Codex's
    daemon and updater start as the TUI's children but in sessions of their own; the agents
    run short-lived helpers of their own)."""
    from termbridge import agents, proctree

    sid = session_of(pane_pid)
    found = []
    for pid in [pane_pid, *proctree.descendants(pane_pid)]:
        try:
            if session_of(pid) == sid and agents.agent_kind(pid) == kind:
                found.append(pid)
        except OSError:
            continue
    assert found, f"no {kind} process in the pane of {pane_pid}"
    return found[-1]


class RealAgent:
    """One real agent in a tmux pane of LAB, offline against STUB, with a scratch HOME under TMP.

    HOOKS: `termbridge hooks install --agent KIND` first (Codex then shows its "Hooks need
    review" screen, which this answers as its user would: "2. Trust all and continue").
    """

    def __init__(
        self,
        lab,
        stub,
        tmp: Path,
        kind: str,
        name: str | None = None,
        *,
        hooks: bool = False,
        manual: bool = False,
        work: Path | None = None,
        term: str = "screen",
        home: Path | None = None,
    ):
        self.lab, self.stub, self.kind = lab, stub, kind
        self.name = name or kind
        self.work = work or tmp / "work"
        self.work.mkdir(exist_ok=True)
        fresh = home is None
        self.home = home or tmp / f"{self.name}-home"
        if fresh:
            if self.home.exists():  # left by a set-up that failed (a rerun starts it again): start clean
                if kind == "codex":
                    reap_codex_daemons(self.home)
                shutil.rmtree(self.home)
            self.home.mkdir()
            self.cmd = agent_setup(kind, self.home, self.work, stub.port, manual=manual)
        else:
            self.cmd = _command_for(kind, self.home, stub.port)
        if hooks and fresh:
            p = _tb("hooks", "install", "--agent", kind, env=agent_env(kind, self.home))
            assert p.returncode == 0, p.stderr
        session = f"TERMBRIDGE_SESSION={self.name} " if name else ""
        self.pane = lab.pane(f"cd {self.work} && exec {TERMS[term]} {session}{self.cmd}")
        self.id = self.pane.pane_id
        try:
            if hooks and kind == "codex" and fresh:
                self.trust_codex_hooks()
            self.wait_for(READY[kind], 90)
        except BaseException:
            # A set-up that fails leaves nothing running: no pane, no daemon (a rerun starts anew).
            try:
                self.lab.tmux("kill-pane", "-t", self.id)
            finally:
                if kind == "codex" and fresh:
                    reap_codex_daemons(self.home)
            raise

    def trust_codex_hooks(self) -> None:
        """What a person does on Codex's "Hooks need review" screen: pick "2. Trust all and continue"."""
        from helpers import retry_until

        self.wait_for("Hooks need review")

        def picked() -> bool:  # a key pressed while the screen is still being set up can be lost
            if "› 2." not in self.plain():
                self.keys("2")
            return "› 2." in self.plain()

        retry_until(picked, 10, 0.3)
        self.keys("Enter")

    @property
    def pid(self) -> int:
        return tui_pid(int(self.pane.pane_pid), self.kind)

    def plain(self) -> str:
        return self.lab.tmux("capture-pane", "-p", "-t", self.id)

    def wait_for(self, needle: str, seconds: float = 60) -> None:
        from helpers import retry_until

        try:
            retry_until(lambda: needle in self.plain(), seconds, 0.2)
        except AssertionError:
            raise AssertionError(f"{self.kind} never showed {needle!r}; its screen:\n{self.plain()}") from None

    def keys(self, *keys: str) -> None:
        self.lab.tmux("send-keys", "-t", self.id, *keys)

    def type_slowly(self, text: str) -> None:
        for ch in text:  # a person typing: one key at a time
            self.keys("-l", ch)
            time.sleep(0.05)

    def prompt(self, text: str) -> None:
        """A person's prompt: typed at once, Enter after every agent's paste-burst window; Enter
        again, as a person would, while the model was not asked (Codex in daemon mode shows its
        composer before its start-up is done, and an Enter then is lost, the text left in place)."""
        from helpers import retry_until

        before = len(self.stub.seen(text))
        self.keys("-l", text)
        time.sleep(0.4)
        for _ in range(3):
            self.keys("Enter")
            try:
                retry_until(lambda: len(self.stub.seen(text)) > before, 3, 0.1)
                return
            except AssertionError:
                continue
        raise AssertionError(f"{self.kind} never submitted {text!r}; its screen:\n{self.plain()}")

    def recorded(self) -> list[str]:
        return recorded_prompts(self.kind, self.home)

    def close(self) -> None:
        tui = self.pid
        try:
            self.lab.tmux("kill-pane", "-t", self.id)
            deadline = time.monotonic() + 10
            while _alive(tui) and time.monotonic() < deadline:  # first the TUI (it restarts its daemon)
                time.sleep(0.05)
        finally:
            if self.kind == "codex":
                reap_codex_daemons(self.home)


def _command_for(kind: str, home: Path, port: int) -> str:
    """The launch command for an agent whose HOME is set up already (a second TUI on the same HOME)."""
    if kind != "codex":
        raise ValueError("only a second Codex TUI shares a HOME")
    return f"{not_ci()}HOME={home} CODEX_HOME={home}/.codex OPENAI_API_KEY=sk-dummy {BIN}/codex"


def _tb(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "termbridge", *args], capture_output=True, text=True, env=env)


class ModuleState:
    """A private TERMBRIDGE_HOME and tmux server for a whole test module (the conftest fixtures are
    per test): the real agents start once per module and its tests share them."""

    def __init__(self, tmp: Path):
        from lab import TmuxLab

        self.tmp = tmp
        self.mp = pytest.MonkeyPatch()
        self.home = tmp / "tbhome"
        self.mp.setenv("TERMBRIDGE_HOME", str(self.home))
        self.mp.setenv("TERMBRIDGE_CONFIG", str(tmp / "config.yaml"))
        self.mp.setenv("TMUX_TMPDIR", str(tmp))
        for var in ("TERMBRIDGE_SESSION", "TMUX", "TMUX_PANE", "KITTY_LISTEN_ON", "TERMBRIDGE_KITTY_SOCKET"):
            self.mp.delenv(var, raising=False)
        self.lab = TmuxLab(tmp)
        self.lab.pane("sleep 100000")  # keeps the server up while agents come and go
        self.mp.setenv("TERMBRIDGE_TMUX_SOCKET", self.lab.socket)
        from termbridge import config

        config._cache.clear()

    def close(self) -> None:
        self.lab.kill()
        self.mp.undo()


def main(argv: list[str]) -> int:
    """`install`: install the pinned agents (what ./dev.sh test runs); prints their bin directory."""
    if argv != ["install"]:
        print("usage: real_agent_lab.py install", file=sys.stderr)
        return 2
    try:
        print(install())
    except InstallFailed as e:
        print(f"real_agent_lab: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
