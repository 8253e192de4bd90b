"""termbridge: get messages into AI coding agents' terminals reliably."""

from __future__ import annotations

# The version has one source: `version` in pyproject.toml. `termbridge --version` reads it from the
# installed package's metadata (click's version_option), and so does `termbridge.__version__` --
# on first use only: importlib.metadata costs ~12 ms, and every hook starts a termbridge.
__version__: str  # set by __getattr__ on first use


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module 'termbridge' has no attribute {name!r}")
    global __version__
    __version__ = _read_version()
    return __version__


def _read_version() -> str:
    """The installed package's version; in a clone run without installing, pyproject.toml's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("termbridge")
    except PackageNotFoundError:
        pass
    import tomllib
    from pathlib import Path

    try:
        with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as f:
            return str(tomllib.load(f)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "0+unknown"
