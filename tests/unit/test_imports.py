"""The product's shape: the checking kernel (`grader`) imports neither the application
(`classroom`) nor the workshop, the sandbox imports none of them, and no module imports itself
back through others, late imports inside functions included (only `if TYPE_CHECKING:` blocks,
which never run, are left out)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("grader", "classroom", "sandbox", "workshop")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def resolve(target: str) -> None:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target:
            found.add(target)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                resolve(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                full = f"{prefix}.{alias.name}"
                resolve(full if full in MODULES else prefix)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    found.discard(name)
    # A package's __init__ runs first when any of its modules is imported: an edge to a module of
    # the same package from its own __init__ is not a cycle by itself.
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            strong(v)
    return found


def test_the_walk_sees_the_product():
    assert {"grader.check", "classroom.session", "classroom.notebook.panel", "sandbox.machine",
            "workshop.service"} <= set(MODULES)
    assert "grader.check" in GRAPH["classroom.session"]


def test_no_import_cycle_anywhere():
    assert _cycles() == []


def _reaches(start: str, packages: tuple[str, ...]) -> list[str]:
    return sorted(t for t in GRAPH[start] if t.split(".")[0] in packages)


def test_the_kernel_imports_neither_the_application_nor_the_workshop():
    bad = {m: _reaches(m, ("classroom", "workshop")) for m in GRAPH if m.split(".")[0] == "grader"}
    assert {m: t for m, t in bad.items() if t} == {}


def test_the_sandbox_imports_no_grader():
    bad = {m: _reaches(m, ("grader", "classroom", "workshop")) for m in GRAPH if m.split(".")[0] == "sandbox"}
    assert {m: t for m, t in bad.items() if t} == {}


def test_only_the_cli_mounts_the_workshop():
    users = sorted(m for m in GRAPH if m.split(".")[0] == "classroom" and _reaches(m, ("workshop",)))
    assert users == ["classroom.cli"]
