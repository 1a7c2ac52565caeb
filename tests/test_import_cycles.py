"""No import cycle among vigparent's modules, counting imports inside functions too.

An import inside a function that dodges a cycle still is one: the modules cannot be
understood, tested or loaded one without the other. Run this file as a script to list them.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

from vigparent import FEATURES

PACKAGE = Path(__file__).resolve().parents[1] / "vigparent"


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in known:
                    yield f"{source}.{alias.name}"
                elif source in known:
                    yield source


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph = {m: set(_imported(m, p, known)) for m, p in known.items()}
    # create_app imports each feature's blueprint by name (importlib), which ast cannot see.
    graph["vigparent"] |= {f"vigparent.{feature}.routes" for feature in FEATURES}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph[v]:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_a_cycle_through_a_function_level_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    tree = import_graph()
    assert "vigparent.jobs" in tree["vigparent.recordings.jobs"]
    assert "vigparent.uploads.routes" in tree["vigparent"]


def test_vigparent_has_no_import_cycle() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert found == [], "\n".join(
        " ⇄ ".join(f"{m} → {sorted(graph[m] & set(group))}" for m in group) for group in found
    )


if __name__ == "__main__":
    graph = import_graph()
    groups = cycles(graph)
    print(f"{len(graph)} modules, {len(groups)} import cycle(s)")
    for group in groups:
        print(f"  {len(group)} modules: {', '.join(group)}")
