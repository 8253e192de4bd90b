"""tools/import_cycles.py: it finds import cycles (module level and inside functions), and
termbridge has none (issue 22 took apart delivery <-> submit <-> wake <-> waiter and outbox <-> receipts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "import_cycles.py"

pytestmark = pytest.mark.fast


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=60)


def test_termbridge_has_no_import_cycles():
    res = _run("--json")
    assert res.returncode == 0, res.stderr
    found = json.loads(res.stdout)
    groups = [g["modules"] for g in found["groups"]]
    assert groups == [], f"an import cycle: {groups} (python tools/import_cycles.py shows the imports)"
    assert found["modules_in_cycles"] == 0
    assert found["modules"] > 40  # it read the package, not an empty directory
    assert _run("--check").returncode == 0


def test_finds_cycles_at_module_level_and_inside_functions(tmp_path):
    pkg = tmp_path / "termbridge"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from termbridge import b\n")
    (pkg / "b.py").write_text("def f():\n    from termbridge.a import thing\n")
    (pkg / "c.py").write_text("import termbridge.sub.d\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "d.py").write_text("from ..c import x\n")  # relative, back to c
    (pkg / "e.py").write_text("from termbridge import a, paths_that_do_not_exist\n")  # no cycle through e
    res = _run("--json", "--root", str(tmp_path))
    assert res.returncode == 0, res.stderr
    found = json.loads(res.stdout)
    assert [g["modules"] for g in found["groups"]] == [["a", "b"], ["c", "sub.d"]]
    ab, cd = found["groups"]
    assert ab["import_time"] == []  # b imports a only inside a function
    assert sorted(cd["import_time"]) == ["c", "sub.d"]  # both at module level
    steps = {(s["from"], s["to"]): s for s in ab["cycles"][0]}
    assert steps[("a", "b")]["top"] and not steps[("b", "a")]["top"]
    assert steps[("b", "a")]["lines"] == [2]
    text = _run("--root", str(tmp_path)).stdout
    assert "a <-> b" in text and "c <-> sub.d" in text
    assert _run("--check", "--root", str(tmp_path)).returncode == 1
