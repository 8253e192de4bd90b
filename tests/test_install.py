"""termbridge installed for daily use: a non-editable install in a fresh venv outside the clone
(as pipx or uv tool would), run from elsewhere, carries every file the demo and the plugins
need, and the plugins loaded from there run that install's termbridge by absolute path.
Also: doctor warns when a path tmux or kitty was configured with is gone."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import tb_json

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIRS = ("tmux-plugin", "kitty", "shell")
pytestmark = [pytest.mark.install, pytest.mark.timeout(180)]


def _run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 150)
    return subprocess.run(argv, **kw)


def _can_build_without_isolation(python: Path) -> bool:
    """setuptools in the venv can build a wheel by itself (>= 70.1, or the wheel package)."""
    probe = (
        "import setuptools, importlib.util, sys; v = tuple(int(x) for x in setuptools.__version__.split('.')[:2]); "
        "sys.exit(0 if v >= (70, 1) or importlib.util.find_spec('wheel') else 1)"
    )
    return _run([str(python), "-c", probe]).returncode == 0


@pytest.fixture(scope="module")
def installed():
    """A copy of the clone (what a fresh clone holds: no .venv, no build/), installed with
    `pip install <clone>` into a fresh venv; all under one /tmp directory, removed after."""
    top = Path(tempfile.mkdtemp(prefix="tbinst", dir="/tmp"))
    src, venv, elsewhere = top / "src", top / "venv", top / "elsewhere"
    shutil.copytree(
        ROOT,
        src,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".venv", "build", "*.egg-info", ".git", "__pycache__", ".pytest_cache", ".hypothesis"
        ),
    )
    elsewhere.mkdir()
    p = _run([sys.executable, "-m", "venv", str(venv)])
    assert p.returncode == 0, p.stderr
    py = venv / "bin" / "python"
    extra = ["--no-build-isolation"] if _can_build_without_isolation(py) else []
    p = _run([str(py), "-m", "pip", "install", "-q", *extra, str(src)], cwd=elsewhere)
    assert p.returncode == 0, p.stderr[-3000:]
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(top / "userhome"),  # no user config, hooks or kitty.conf
        "TERMBRIDGE_HOME": str(top / "state"),
        "TERMBRIDGE_CONFIG": str(top / "config.yaml"),
        "TMUX_TMPDIR": str(top / "tmuxtmp"),  # tmux's default server is private: no user tmux
        "LANG": "C.UTF-8",
    }
    (top / "tmuxtmp").mkdir()
    (top / "userhome").mkdir()
    site = Path(
        _run(
            [str(py), "-c", "import termbridge, os; print(os.path.dirname(termbridge.__file__))"],
            cwd=elsewhere,
            env=env,
        ).stdout.strip()
    )
    yield {
        "top": top,
        "src": src,
        "venv": venv,
        "py": py,
        "tb": venv / "bin" / "termbridge",
        "env": env,
        "cwd": elsewhere,
        "pkg": site,
        "build_isolation": not extra,
    }
    shutil.rmtree(top, ignore_errors=True)


def _needed_files() -> list[str]:
    """Every plugin and snippet file in the clone, relative to the clone's top."""
    out = []
    for d in PLUGIN_DIRS:
        for f in sorted((ROOT / d).rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                out.append(str(f.relative_to(ROOT)))
    return out


def test_installed_package_carries_every_plugin_file(installed):
    pkg, venv = installed["pkg"], installed["venv"]
    assert pkg.is_relative_to(venv), pkg  # the install, not the clone
    assert (pkg / "demo_agent.py").is_file() and (pkg / "demo.py").is_file()
    p = _run([str(installed["tb"]), "paths", "--json"], cwd=installed["cwd"], env=installed["env"])
    assert p.returncode == 0, p.stderr
    paths = json.loads(p.stdout)
    data = Path(paths["data"])
    assert data == pkg / "data"
    assert paths["command"] == str(installed["tb"])
    assert paths["tmux"] == str(data / "tmux-plugin" / "termbridge.tmux")
    assert paths["kitty"] == str(data / "kitty") and paths["shell"] == str(data / "shell")
    needed = _needed_files()
    assert len(needed) >= 12 and "tmux-plugin/scripts/drain.sh" in needed and "kitty/termbridge_watcher.py" in needed
    for rel in needed:
        shipped = data / rel
        assert shipped.is_file(), f"{rel} is missing from the installed package"
        assert shipped.read_bytes() == (ROOT / rel).read_bytes(), rel
        source_exec = bool((ROOT / rel).stat().st_mode & stat.S_IXUSR)
        assert bool(shipped.stat().st_mode & stat.S_IXUSR) == source_exec, f"{rel}: executable bit not kept"
    # Only the three directories: termbridge.data maps to the clone's top, no stray modules.
    assert sorted(os.listdir(data)) == sorted(PLUGIN_DIRS)


def test_installed_demo_and_doctor_run_outside_the_clone(installed):
    env, cwd, tb = installed["env"], installed["cwd"], str(installed["tb"])
    p = _run([tb, "demo"], cwd=cwd, env=env)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    for expected in [
        "agent received: 'hello from termbridge'",
        "drain -> delivered 2 messages",
        "decision='block'",
        "decoy received: nothing",
    ]:
        assert expected in p.stdout, expected
    p = _run([tb, "doctor", "--json"], cwd=cwd, env=env)
    data = json.loads(p.stdout)
    checks = {c["name"]: c for c in data["checks"]}
    assert p.returncode == 0 and data["ok"] is True, p.stdout
    assert checks["tmux server"]["status"] == "skip"  # no user tmux was touched
    assert checks["state"]["status"] == "ok" and checks["config"]["status"] == "ok"
    assert checks["configured paths"]["status"] == "skip"
    assert not (installed["top"] / "state" / "sessions").exists()  # the demo kept to its own state


def test_installed_tmux_plugin_binds_prefix_d_to_an_absolute_termbridge(installed):
    env, tb = installed["env"], str(installed["tb"])
    plugin = _run([tb, "paths", "tmux"], cwd=installed["cwd"], env=env).stdout.strip()
    socket = str(installed["top"] / "tmuxtmp" / "plugin.sock")
    bare = {**env, "PATH": "/usr/bin:/bin"}  # the server's PATH has no termbridge, as often in real life
    assert _run(["sh", "-c", "command -v termbridge"], env=bare).returncode != 0
    tmux = ["tmux", "-S", socket]
    try:
        assert _run([*tmux, "-f", "/dev/null", "new-session", "-d", "sleep 300"], env=bare).returncode == 0
        p = _run([*tmux, "run-shell", plugin], env=bare)
        assert p.returncode == 0, p.stderr
        keys = [
            line
            for line in _run([*tmux, "list-keys", "-T", "prefix"], env=bare).stdout.splitlines()
            if "drain.sh" in line
        ]
        assert len(keys) == 1 and " D " in keys[0], keys
        assert f"'{tb}'" in keys[0] and f"'{Path(plugin).parent}/scripts/drain.sh'" in keys[0], keys[0]
        assert _run([*tmux, "show-options", "-gv", "@termbridge-command-path"], env=bare).stdout.strip() == tb
        # doctor (from the install) finds every configured path in place.
        p = _run([tb, "doctor", "--json"], cwd=installed["cwd"], env={**env, "TERMBRIDGE_TMUX_SOCKET": socket})
        checks = {c["name"]: c for c in json.loads(p.stdout)["checks"]}
        assert checks["tmux plugin"]["status"] == "ok" and checks["configured paths"]["status"] == "ok", checks
    finally:
        _run([*tmux, "kill-server"], env=bare)


def test_installed_kitty_watcher_runs_its_termbridge(installed):
    env, tb = installed["env"], str(installed["tb"])
    kitty_dir = Path(_run([tb, "paths", "kitty"], cwd=installed["cwd"], env=env).stdout.strip())
    conf = installed["top"] / "kittyconf"
    conf.mkdir(exist_ok=True)
    link = conf / "termbridge"
    if not link.is_symlink():
        link.symlink_to(kitty_dir)  # docs/setup.md's `ln -sfn "$(termbridge paths kitty)" ~/.config/kitty/termbridge`
    probe = (
        "import runpy, sys; w = runpy.run_path(sys.argv[1], run_name='__kitty_watcher__'); "
        "print(' '.join(w['command']()))"
    )
    p = _run(["python3", "-c", probe, str(link / "termbridge_watcher.py")], env={**env, "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == tb


def test_doctor_warns_when_configured_paths_are_gone(lab, home, short_tmp, monkeypatch):
    lab.pane("sleep 300")
    assert (
        subprocess.run(
            ["tmux", "-S", lab.socket, "run-shell", str(ROOT / "tmux-plugin" / "termbridge.tmux")]
        ).returncode
        == 0
    )
    kitty_conf = short_tmp / "kittyconf"
    kitty_conf.mkdir()
    (kitty_conf / "termbridge").symlink_to(ROOT / "kitty")
    (kitty_conf / "kitty.conf").write_text("include termbridge/termbridge.conf\n")
    monkeypatch.setenv("KITTY_CONFIG_DIRECTORY", str(kitty_conf))

    def paths_check():
        return next(c for c in tb_json("doctor")["checks"] if c["name"] == "configured paths")

    healthy = paths_check()
    # the recorded termbridge, the binding's drain.sh (key and hook), the include, watcher, kitten
    assert healthy["status"] == "ok" and healthy["detail"] == "5 configured paths exist", healthy

    lab.tmux("set", "-g", "@termbridge-command", "/nonexistent/bin/termbridge")
    broken = paths_check()
    assert broken["status"] == "warn" and "/nonexistent/bin/termbridge" in broken["detail"]
    assert "termbridge paths" in broken["fix"]

    lab.tmux("set", "-gu", "@termbridge-command")
    (kitty_conf / "termbridge").unlink()
    (kitty_conf / "termbridge").symlink_to(short_tmp / "uninstalled")  # a reinstall moved it
    lab.tmux("set", "-g", "@termbridge-command-path", str(short_tmp / "old-venv" / "bin" / "termbridge"))
    broken = paths_check()
    assert broken["status"] == "warn" and "old-venv" in broken["detail"] and "(+1 more)" in broken["detail"], broken
    # kitty: the include is gone, so its watcher and kitten are not looked for: 2 problems in all.


def test_paths_in_a_clone_point_at_the_top_level_plugins(home):
    """An editable install (or `python -m termbridge` in a clone) finds the clone's own dirs."""
    from helpers import tb

    found = tb_json("paths")
    assert found["data"] == str(ROOT) and found["tmux"] == str(ROOT / "tmux-plugin" / "termbridge.tmux")
    assert found["state"] == os.environ["TERMBRIDGE_HOME"]
    first = found["command"].split()[0]
    assert first.startswith("/") and os.access(first, os.X_OK)
    p = subprocess.run([*found["command"].split(), "--version"], capture_output=True, text=True)
    assert p.stdout.startswith("termbridge ")
    assert tb("paths", "kitty").out.strip() == str(ROOT / "kitty")
    assert tb("paths", "nope").returncode == 2
