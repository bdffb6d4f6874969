"""The packages import one another in one direction only (issue 21, item 1).

The direction is the one line under "Dependency direction" in
docs/architecture.md; these tests read it from there, parse every module of
`keras_dense` with `ast` (imports at module level and inside functions, `import x`
and `from x import y`, relative imports resolved) and fail naming file:line.
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "keras_dense"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
# The facade imports lazily (importlib, on first attribute use) and is exempt.
EXEMPT = {"__init__.py", "__main__.py"}
# In-function keras_dense imports allowed outside cli/: (file, module) -> why.
ALLOWED_IN_FUNCTION: dict = {}


def dependency_order():
    """`[{package, ...}, ...]`: the levels of the line in docs/architecture.md, left first."""
    text = ARCHITECTURE.read_text(encoding="utf8")
    section = text.split("## Dependency direction", 1)[1]
    line = next(line for line in section.splitlines() if " -> " in line)
    return [{name.strip() for name in level.split(",")} for level in line.split("->")]


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(module):
    """`keras_dense.models._builder` -> `models`; the root package -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _is_module(dotted):
    """Whether `dotted` (`keras_dense.models._builder`) is a module or package of ours."""
    path = ROOT.joinpath(*dotted.split("."))
    return (path / "__init__.py").is_file() or path.with_suffix(".py").is_file()


def _imported_modules(node, module, is_package):
    """The keras_dense modules an `Import` / `ImportFrom` node imports."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolved against the importing module's package
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    # `from keras_dense.models import _builder` imports a module; `... import get_model`,
    # or `from keras_dense import __version__`, an attribute of `prefix`
    return [
        f"{prefix}.{alias.name}" if _is_module(f"{prefix}.{alias.name}") else prefix
        for alias in node.names
    ]


def keras_dense_imports():
    """`[(file, line, importing package, imported module, inside a function)]`."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in EXEMPT:
            continue
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf8"), str(path))
        in_function = {
            id(inner)
            for function in ast.walk(tree)
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            for inner in ast.walk(function)
        }
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for imported in _imported_modules(node, module, path.name == "__init__.py"):
                if imported == "keras_dense" or imported.startswith("keras_dense."):
                    found.append(
                        (
                            relative,
                            node.lineno,
                            _package_of(module),
                            imported,
                            id(node) in in_function,
                        )
                    )
    return found


def package_graph():
    """`{package: {package it imports, ...}}` (the root package is no edge: it imports
    nothing of keras_dense when a module reads `__version__` or `__file__` from it)."""
    graph = {}
    for _, _, source, imported, _ in keras_dense_imports():
        target = _package_of(imported)
        graph.setdefault(source, set())
        if target is not None and target != source:
            graph[source].add(target)
    return graph


def test_the_direction_names_every_package():
    order = dependency_order()
    named = set().union(*order)
    packages = {
        p.stem
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / "__init__.py").is_file())
        or (p.suffix == ".py" and p.name not in EXEMPT)
    }
    assert packages <= named, (
        f"{sorted(packages - named)} missing from the dependency "
        f"direction in {ARCHITECTURE.relative_to(ROOT)}"
    )
    assert len(named) == sum(len(level) for level in order), "a package named twice"


def test_no_package_imports_one_to_its_right():
    level = {name: index for index, names in enumerate(dependency_order()) for name in names}
    wrong = [
        f"keras_dense/{path}:{line}: {source} imports {imported} ({_package_of(imported)} is "
        f"right of {source})"
        for path, line, source, imported, _ in keras_dense_imports()
        if _package_of(imported) is not None
        and source in level
        and level.get(_package_of(imported), len(level)) > level[source]
    ]
    assert not wrong, "imports against the dependency direction:\n" + "\n".join(wrong)


def _cycles(graph):
    """The strongly connected components of more than one package (Tarjan)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycle_between_packages():
    graph = package_graph()
    cycles = _cycles(graph)
    where = [
        f"keras_dense/{path}:{line}: {source} -> {_package_of(imported)}"
        for path, line, source, imported, _ in keras_dense_imports()
        for cycle in cycles
        if source in cycle and _package_of(imported) in cycle and _package_of(imported) != source
    ]
    assert not cycles, f"import cycles between packages: {cycles}\n" + "\n".join(where)


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_keras_dense_import_inside_functions_outside_cli():
    """Inside a function, only cli/ imports keras_dense modules (what a command runs, when it
    runs); elsewhere an import inside a function dodged a cycle and goes to the top."""
    inside = {}
    for path, line, source, imported, in_function in keras_dense_imports():
        if in_function and source != "cli":
            inside.setdefault((path, imported), []).append(line)
    unexplained = [
        f"keras_dense/{path}:{lines[0]}: {imported}"
        for (path, imported), lines in sorted(inside.items())
        if (path, imported) not in ALLOWED_IN_FUNCTION
    ]
    assert not unexplained, "keras_dense imports inside functions:\n" + "\n".join(unexplained)


def test_imports_are_resolved_to_modules():
    tree = ast.parse(
        "from . import a\nfrom ..weights import resolve\nfrom .d import e\n"
        "from keras_dense import _files, __version__\nimport keras_dense.models\n"
    )
    relative, parent, inner, root, plain = tree.body
    assert _imported_modules(relative, "keras_dense.x.y", False) == ["keras_dense.x"]
    assert _imported_modules(parent, "keras_dense.x.y", False) == ["keras_dense.weights.resolve"]
    assert _imported_modules(inner, "keras_dense.x", True) == ["keras_dense.x.d"]
    assert _imported_modules(root, "keras_dense.x", True) == ["keras_dense._files", "keras_dense"]
    assert _imported_modules(plain, "keras_dense.x", True) == ["keras_dense.models"]
