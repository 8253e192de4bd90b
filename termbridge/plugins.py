"""Where this termbridge and its plugin files live: `termbridge paths`, and for anything
that writes a termbridge command into someone else's config.

An installed package carries tmux-plugin/, kitty/ and shell/ as termbridge/data/ (see
pyproject.toml); an editable install or a clone has them at the repository top.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

PLUGIN_DIRS = ("tmux-plugin", "kitty", "shell")


def data_dir() -> Path:
    """The directory holding tmux-plugin/, kitty/ and shell/ for this termbridge."""
    pkg = Path(os.path.abspath(__file__)).parent
    for candidate in (pkg / "data", pkg.parent):
        if (candidate / "tmux-plugin" / "termbridge.tmux").is_file():
            return candidate
    return pkg / "data"  # a broken install: the path doctor and `paths` will say is missing


def command_argv(argv0: str | None = None, executable: str | None = None) -> list[str]:
    """The absolute command that runs this termbridge (not resolved through symlinks, so a
    pipx ~/.local/bin link stays the link): the running script, else the console script
    beside this Python, else `python -m termbridge`."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    if os.path.basename(argv0) == "termbridge" and os.sep in argv0 and os.access(argv0, os.X_OK):
        return [os.path.abspath(argv0)]
    sibling = os.path.join(os.path.dirname(os.path.abspath(executable)), "termbridge")
    if os.path.isfile(sibling) and os.access(sibling, os.X_OK):
        return [sibling]
    return [os.path.abspath(executable), "-m", "termbridge"]


def command_string() -> str:
    """command_argv() as one shell-quoted string (for hook and plugin configs)."""
    return shlex.join(command_argv())


def all_paths() -> dict[str, str]:
    """Every NAME of `termbridge paths` with its value."""
    from termbridge import config, paths

    d = data_dir()
    return {
        "command": command_string(),
        "data": str(d),
        "tmux": str(d / "tmux-plugin" / "termbridge.tmux"),
        "kitty": str(d / "kitty"),
        "shell": str(d / "shell"),
        "state": str(paths.state_home()),
        "config": str(config.config_path()),
    }
