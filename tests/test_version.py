"""One version source: pyproject.toml's `version`, read by `termbridge --version` and
`termbridge.__version__` alike; reading it stays off the send path."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast  # no tmux, no terminal: the unit loop (`pytest -m fast`)

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def test_every_reader_gives_pyproject_version():
    import termbridge

    want = _pyproject_version()
    assert version("termbridge") == want, "reinstall: the installed metadata is older than pyproject.toml"
    assert termbridge.__version__ == want
    p = subprocess.run([sys.executable, "-m", "termbridge", "--version"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == f"termbridge {want}\n", p.stdout + p.stderr


def test_no_second_version_literal_in_the_package():
    text = (ROOT / "termbridge" / "__init__.py").read_text()
    assert _pyproject_version() not in text


def test_a_clone_run_without_installing_reads_pyproject(tmp_path):
    """Without the package's metadata (PYTHONPATH at a clone, nothing installed) the version is
    pyproject.toml's, not a guess."""
    code = (
        "import importlib.metadata as m, sys\n"
        "def missing(name):\n"
        "    raise m.PackageNotFoundError(name)\n"
        "m.version = missing\n"  # a fault injected: this interpreter has termbridge installed
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import termbridge\n"
        "print(termbridge.__version__)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.stdout.strip() == _pyproject_version(), p.stderr


def test_the_send_path_does_not_read_metadata():
    code = "import sys, termbridge.fastpath, termbridge.sending; print('importlib.metadata' in sys.modules)"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "False", p.stderr


def test_every_subpackage_is_in_the_wheel():
    """pyproject names the packages one by one (the plugins ride in as termbridge.data): a new
    subpackage left out of that list is missing from every non-editable install."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "termbridge").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
