"""The package's import graph follows the pipeline: no module imports a later stage, and no loop.

Every ``import``/``from ... import`` in ``edgeseg/`` counts, including those inside functions
(a deferred import is still a dependency). A module's stage is found by its longest prefix in
:data:`STAGES`, so a new file in a package inherits the package's stage and a new top-level module
counts as ground floor (it may import only ground-floor modules) until it is placed here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "edgeseg"

# Earlier stages first. A module may import its own stage and earlier ones.
STAGE_ORDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    # the shared nouns and helpers every stage uses: run folders, the artifact contract, errors, configs
    ("ground", ("edgeseg", "edgeseg._keras", "edgeseg.errors", "edgeseg.io", "edgeseg.progress", "edgeseg.registry",
                "edgeseg.config", "edgeseg.defaults", "edgeseg.run", "edgeseg.artifact", "edgeseg.postprocess",
                "edgeseg.metrics", "edgeseg.losses", "edgeseg.distribute", "edgeseg.formats")),
    ("data", ("edgeseg.data",)),
    ("models", ("edgeseg.models",)),
    # one Runner for every format, and timing it
    ("runtime", ("edgeseg.runtime",)),
    ("evaluate", ("edgeseg.evaluate", "edgeseg.predict", "edgeseg.plots")),
    # the fine-tune stage template (edgeseg.finetune.stage) is built on the training loop; the package
    # root lists the stages (prune, QAT) to register them and resumes a run of any kind
    ("train", ("edgeseg.train", "edgeseg.finetune.stage")),
    ("fine-tune", ("edgeseg.finetune", "edgeseg.prune", "edgeseg.quantize")),
    # the app's frame pipeline (preprocess, hints, overlay): export writes golden vectors with it
    ("screen", ("edgeseg.screen",)),
    ("export", ("edgeseg.export",)),
    ("gate", ("edgeseg.gates",)),
    # pipelines over export -> gate: the accuracy-aware search, `edgeseg export`'s pipeline, and the
    # MediaPipe artifact (a gated uint8 copy of the int8 one)
    ("search", ("edgeseg.quantize.accuracy_aware", "edgeseg.pipeline", "edgeseg.export.mediapipe")),
    ("bench", ("edgeseg.bench",)),
    ("apps", ("edgeseg.web", "edgeseg.scale")),
    ("cli", ("edgeseg.cli",)),
)
STAGES = {prefix: i for i, (_, prefixes) in enumerate(STAGE_ORDER) for prefix in prefixes}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage_of(module: str) -> int:
    name = module
    while name:
        if name in STAGES:
            return STAGES[name]
        name = name.rpartition(".")[0]
    raise KeyError(module)


def import_graph() -> dict[str, set[str]]:
    """``module -> the edgeseg modules it imports`` (a name imported from a package counts as
    the submodule when one exists)."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                names = [base, *(f"{base}.{a.name}" for a in node.names)]
            else:
                continue
            for name in names:
                while name and name not in files:
                    name = name.rpartition(".")[0]
                if name.startswith("edgeseg") and name != module:
                    deps.add(name)
        graph[module] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_stage():
    unplaced = []
    for module in import_graph():
        try:
            stage_of(module)
        except KeyError:
            unplaced.append(module)
    assert not unplaced, f"place these modules in STAGE_ORDER: {unplaced}"


def test_no_module_imports_a_later_stage():
    names = [name for name, _ in STAGE_ORDER]
    upward = [
        f"{m} ({names[stage_of(m)]}) imports {d} ({names[stage_of(d)]})"
        for m, deps in sorted(import_graph().items())
        for d in sorted(deps)
        if stage_of(d) > stage_of(m)
    ]
    assert not upward, "\n".join(upward)


def test_the_import_graph_has_no_loop():
    assert cycles(import_graph()) == []


@pytest.mark.parametrize(
    "graph,expected",
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_cycles_finds_loops(graph, expected):
    assert cycles(graph) == expected
