"""The layout shows the pipeline: imports flow one way, never in a cycle, and the core never imports typer."""

from __future__ import annotations

import ast
import subprocess
import sys

from drawing import REPO

PACKAGE = REPO / "batchdigits"
# Layers from the bottom up: a module may import its own layer and the layers below it.
LAYERS = ("foundation", "files", "recognition", "learning", "output", "top")
TOP = {"batchdigits.cli", "batchdigits.__main__", "batchdigits.scan", "batchdigits.ledger"}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if module in TOP:
        return "top"
    if len(parts) > 2 and parts[1] in LAYERS:
        return parts[1]
    return "foundation"  # errors, atomic, resources, the package itself


def import_graph() -> dict[str, set[str]]:
    """Every module of the package -> the package's modules it imports (at any depth of its code)."""
    modules = {".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): path
               for path in PACKAGE.rglob("*.py")}
    graph = {}
    for module, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("batchdigits"):
                for alias in node.names:
                    name = f"{node.module}.{alias.name}"
                    imported.add(name if name in modules else node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names if alias.name.startswith("batchdigits"))
        graph[module] = {name for name in imported if name != module}
    return graph


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(target):] + [module, target]))
            if target not in state:
                visit(target, trail + [module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_imports_flow_down_the_pipeline_only():
    upward = [f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})"
              for module, targets in import_graph().items() for target in targets
              if target != "batchdigits" and LAYERS.index(layer_of(target)) > LAYERS.index(layer_of(module))]
    assert upward == []


def test_the_cycle_finder_finds_a_cycle(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: {"a": {"b"}, "b": {"a"}})
    try:
        test_the_import_graph_has_no_cycle()
    except AssertionError as error:
        assert "a -> b -> a" in str(error)
    else:
        raise AssertionError("a cycle went unnoticed")


def test_the_core_never_imports_typer():
    mentions = [module for module, path in
                ((".".join(p.relative_to(REPO).with_suffix("").parts), p) for p in PACKAGE.rglob("*.py"))
                if module not in {"batchdigits.cli", "batchdigits.__main__"} and "typer" in
                {alias.name.split(".")[0] for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, (ast.Import, ast.ImportFrom))
                 for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}]
    assert mentions == []
    # And at run time: importing every core module (and what they import) leaves typer unloaded.
    core = [module for module in import_graph() if module not in {"batchdigits.cli", "batchdigits.__main__"}]
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in core) + \
        "print('typer' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
