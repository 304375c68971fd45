"""The package's shape: no import circle among gigagan's modules, inference and metrics independent of
training, and no module over 500 lines. Read from the source with `ast` (nothing is imported)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "gigagan"
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def imported_modules(node: ast.Import | ast.ImportFrom, importer: str) -> list[str]:
    """The gigagan modules an import statement names: `from P import X` names P.X where that is a module
    (a submodule import loads P only as its parent package), else P."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in MODULES]
    base = node.module or ""
    if node.level:  # relative: resolve against the importing module's package
        package = importer.split(".") if is_package(importer) else importer.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
    found = []
    for alias in node.names:
        if f"{base}.{alias.name}" in MODULES:
            found.append(f"{base}.{alias.name}")
        elif base in MODULES:
            found.append(base)
    return found


def is_type_checking_block(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:`: its imports never run (they count as lazy)."""
    test = getattr(node, "test", None) if isinstance(node, ast.If) else None
    return getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING"


def imports(name: str) -> tuple[set[str], set[str]]:
    """(modules imported when `name` is imported; modules imported inside functions, which load only when
    the function runs, or under `if TYPE_CHECKING:`, which never loads)."""
    tree = ast.parse(MODULES[name].read_text())
    eager: set[str] = set()
    lazy: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                (lazy if in_function else eager).update(imported_modules(child, name))
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, nested or is_type_checking_block(child))

    visit(tree, False)
    eager.discard(name)
    return eager, lazy


GRAPH = {name: imports(name) for name in MODULES}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_the_package() -> None:
    assert {"gigagan", "gigagan.config", "gigagan.cli", "gigagan.training.loop"} <= set(MODULES)
    eager, _ = GRAPH["gigagan.training.loop"]
    assert "gigagan.training.checkpoint" in eager and "gigagan.config" in eager


def test_no_import_circle_among_the_modules() -> None:
    cycle = find_cycle({name: eager for name, (eager, _) in GRAPH.items()})
    assert cycle is None, " -> ".join(cycle or [])


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_inference_and_metrics_import_nothing_from_training() -> None:
    offenders = {
        name: sorted(target for target in eager | lazy if target.split(".")[:2] == ["gigagan", "training"])
        for name, (eager, lazy) in GRAPH.items()
        if name.split(".")[:2] in (["gigagan", "inference"], ["gigagan", "metrics"])
    }
    assert not {name: found for name, found in offenders.items() if found}


def test_no_module_is_over_500_lines() -> None:
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, long
