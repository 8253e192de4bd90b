"""Import cycles between termbridge's own modules, read from the source with `ast`.

Every `import` counts: at module level and inside functions (termbridge imports most things
lazily, inside the function that needs them, so a cycle there is no import-time error -- but
it still ties the modules together: neither can be read, tested or moved without the other).

    python tools/import_cycles.py            # the cycles, one strongly connected group each
    python tools/import_cycles.py --json     # the same as JSON (tests/test_import_cycles.py)
    python tools/import_cycles.py --check    # exit 1 when there is any cycle (./dev.sh check, CI)

A group is a set of modules each of which reaches every other through imports (a strongly
connected component of the import graph); for each group one shortest cycle through each
of its members is printed, with the line of every import on it, and `*` marks an import
made at module level (an import-time cycle needs one of those at every step).

An import made by name at run time (`importlib.import_module`, as backends/__init__.py loads a
backend) is not seen.

There are none (issue 22 took the last two apart): `./dev.sh check` (so .ci/run) fails on a
new one, and so does tests/test_import_cycles.py.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "termbridge"
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Edge:
    """One import: SOURCE imports TARGET at LINE; TOP when at module level (not inside a def)."""

    source: str
    target: str
    line: int
    top: bool


def module_name(path: Path, root: Path) -> str:
    """`termbridge/backends/tmux.py` -> `termbridge.backends.tmux`; a package's `__init__` is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of PACKAGE under ROOT, by dotted name."""
    return {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}


def _resolve_from(node: ast.ImportFrom, here: str, is_pkg: bool) -> str:
    """The absolute module an `ImportFrom` names (relative imports resolved against HERE)."""
    if not node.level:
        return node.module or ""
    base = here.split(".") if is_pkg else here.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


class _Walker(ast.NodeVisitor):
    """Collects the imports of one module, noting whether each sits inside a function."""

    def __init__(self, here: str, is_pkg: bool, known: set[str]) -> None:
        self.here, self.is_pkg, self.known = here, is_pkg, known
        self.depth = 0
        self.edges: list[Edge] = []

    def _add(self, target: str, line: int) -> None:
        # `import termbridge.a.b` names a.b; the nearest known module wins (a name imported from a
        # module, e.g. `from termbridge.paths import atomic_write`, is an edge to that module).
        while target and target not in self.known:
            target = target.rpartition(".")[0]
        if target and target != self.here and target != PACKAGE:
            self.edges.append(Edge(self.here, target, line, self.depth == 0))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]
    visit_Lambda = visit_FunctionDef  # type: ignore[assignment]

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] == PACKAGE:
                self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve_from(node, self.here, self.is_pkg)
        if base.split(".")[0] != PACKAGE:
            return
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            # `from termbridge import paths` imports the module termbridge.paths
            self._add(sub if sub in self.known else base, node.lineno)


def import_edges(modules: dict[str, Path]) -> list[Edge]:
    """Every import between MODULES, in source order."""
    known = set(modules)
    edges: list[Edge] = []
    for name, path in modules.items():
        walker = _Walker(name, path.name == "__init__.py", known)
        walker.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        edges.extend(walker.edges)
    return edges


def strongly_connected(nodes: list[str], graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted; only those with a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in graph.get(node, ()):
                    out.append(sorted(group))
    return sorted(out, key=lambda g: (-len(g), g))


def shortest_cycle(start: str, group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle from START back to START inside GROUP (breadth first), START first."""
    prev: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for child in sorted(graph.get(node, ())):
            if child not in group:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return list(reversed(path))
            if child not in seen:
                seen.add(child)
                prev[child] = node
                queue.append(child)
    return []


def analyse(root: Path = ROOT) -> dict:
    """The import graph's cyclic groups: `{"groups": [{"modules", "cycles", "import_time"}], ...}`."""
    modules = find_modules(root)
    edges = import_edges(modules)
    graph: dict[str, set[str]] = {}
    top_graph: dict[str, set[str]] = {}
    where: dict[tuple[str, str], list[Edge]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        if e.top:
            top_graph.setdefault(e.source, set()).add(e.target)
        where.setdefault((e.source, e.target), []).append(e)
    groups = []
    for group in strongly_connected(sorted(modules), graph):
        members = set(group)
        cycles: list[list[str]] = []
        for m in group:
            cyc = shortest_cycle(m, members, graph)
            # one cycle per set of modules: the same ring seen from another member is not new
            if cyc and not any(set(c) == set(cyc) and len(c) == len(cyc) for c in cycles):
                cycles.append(cyc)
        steps = [
            [
                {
                    "from": a,
                    "to": b,
                    "lines": [x.line for x in where[(a, b)]],
                    "top": any(x.top for x in where[(a, b)]),
                }
                for a, b in zip(c, c[1:] + c[:1], strict=True)
            ]
            for c in cycles
        ]
        groups.append(
            {
                "modules": [_short(m) for m in group],
                "cycles": [[dict(s, **{"from": _short(s["from"]), "to": _short(s["to"])}) for s in c] for c in steps],
                "import_time": [_short(m) for g in strongly_connected(group, top_graph) for m in g],
            }
        )
    return {
        "modules": len(modules),
        "imports": len({(e.source, e.target) for e in edges}),
        "groups": groups,
        "modules_in_cycles": sum(len(g["modules"]) for g in groups),
    }


def _short(name: str) -> str:
    return name[len(PACKAGE) + 1 :] if name.startswith(PACKAGE + ".") else name


def render(result: dict) -> str:
    """The report a person reads."""
    lines = [
        f"{result['modules']} modules, {result['imports']} module-to-module imports; "
        f"{len(result['groups'])} cyclic group(s) holding {result['modules_in_cycles']} modules"
    ]
    for n, g in enumerate(result["groups"], 1):
        lines.append(f"\n{n}. {' <-> '.join(g['modules'])}")
        for cyc in g["cycles"]:
            ring = " -> ".join(f"{s['from']} ({'*' if s['top'] else ''}{','.join(map(str, s['lines']))})" for s in cyc)
            lines.append(f"   {ring} -> {cyc[0]['from']}")
        if g["import_time"]:
            lines.append(f"   import-time cycle (module-level imports only): {', '.join(g['import_time'])}")
    if result["groups"]:
        lines.append("\n(N,M): the lines where a module imports the next one; *: one of them at module level")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this one)")
    parser.add_argument("--check", action="store_true", help="exit 1 when there is any cycle")
    args = parser.parse_args(argv)
    result = analyse(args.root)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 1 if args.check and result["groups"] else 0


if __name__ == "__main__":
    sys.exit(main())
