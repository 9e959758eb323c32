"""cp_predict imports without cycles: statically (lazy imports included) and in fresh interpreters, in any order.

The cycle this guards against: ``models.neural`` replayed a pruning plan through ``cp_predict.pruning``, which
imports ``cp_predict.training``, which imports ``cp_predict.models``. Replay now lives in ``models.pruned``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "cp_predict"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """cp_predict modules ``name`` imports anywhere (inside functions too), except under ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def _import_in_fresh_interpreter(*modules: str) -> None:
    code = "; ".join(f"import {m}" for m in modules)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"{code}: {done.stderr[-2000:]}"


def test_cp_predict_import_graph_has_no_cycle():
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    assert "cp_predict.models.pruned" in graph["cp_predict.models.neural"]  # the replay, lazily imported
    assert not _cycles(graph), [" -> ".join(c) for c in _cycles(graph)]


def test_the_model_layer_does_not_import_the_workflows_above_it():
    above = {"cp_predict.pruning", "cp_predict.training", "cp_predict.predictor", "cp_predict.cli"}
    for name, path in MODULES.items():
        if name.startswith("cp_predict.models"):
            assert not _imports(name, path) & above, name


@pytest.mark.parametrize("order", [
    ("cp_predict.models.neural", "cp_predict.pruning"),
    ("cp_predict.pruning", "cp_predict.models.neural"),
    ("cp_predict.training", "cp_predict.pruning"),
    ("cp_predict.models", "cp_predict.pruning", "cp_predict.training"),
], ids=lambda order: "-then-".join(m.rsplit(".", 1)[-1] for m in order))
def test_the_modules_that_used_to_cycle_import_in_either_order(order):
    _import_in_fresh_interpreter(*order)


@pytest.mark.slow  # one interpreter (and one torch import) per module: about 5 s each on 2 cores
@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports_alone(module):
    _import_in_fresh_interpreter(module)
