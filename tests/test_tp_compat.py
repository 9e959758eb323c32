"""core_pruning's use of Torch-Pruning internals: one module, a pinned version range, no global patching."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch_pruning.dependency import index_mapping

import core_pruning
from core_pruning import _tp_compat as tpc
from core_pruning.groups import collect_groups
from core_pruning.models import resnet20
from core_pruning.plan import build_graph


def _graph():
    model = resnet20(num_classes=10, in_channels=1)
    return model, build_graph(model, torch.randn(1, 1, 28, 28))


def test_importing_core_pruning_leaves_torch_pruning_unpatched():
    code = ("import torch_pruning.dependency.index_mapping as m; original = m.update_index_mapping; "
            "import core_pruning, core_pruning.engine, core_pruning.training; "
            "assert m.update_index_mapping is original, m.update_index_mapping; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_patch_is_active_only_inside_our_enumeration_and_restored():
    original = index_mapping.update_index_mapping
    _, dg = _graph()
    other_calls = []
    with tpc.index_mappings_refreshed_once(dg):
        assert index_mapping.update_index_mapping is not original
        with tpc.index_mappings_refreshed_once(dg):  # re-entrant: the inner exit keeps the outer's patch
            pass
        assert index_mapping.update_index_mapping is not original
        other = type("Graph", (), {"module2node": {}})()
        index_mapping.update_index_mapping(other)  # another graph (a user's) is still refreshed
        other_calls.append(True)
    assert index_mapping.update_index_mapping is original
    assert other_calls
    groups = collect_groups(dg, [])
    assert groups and index_mapping.update_index_mapping is original


def test_patch_is_restored_after_an_exception():
    original = index_mapping.update_index_mapping
    _, dg = _graph()
    with pytest.raises(RuntimeError, match="boom"), tpc.index_mappings_refreshed_once(dg):
        raise RuntimeError("boom")
    assert index_mapping.update_index_mapping is original
    assert not tpc._skipped


def test_unsupported_version_fails_loudly(monkeypatch):
    for version in ("1.4.3", "1.7.0", "2.0.0", "garbage"):
        with pytest.raises(tpc.UnsupportedTorchPruning) as info:
            tpc.check_supported(version)
        message = str(info.value)
        assert version in message and tpc.SUPPORTED_RANGE in message
    tpc.check_supported("1.5.0")
    tpc.check_supported(tpc.installed_version())
    import torch_pruning

    monkeypatch.setattr(torch_pruning, "__version__", "1.9.0")
    model = resnet20(num_classes=10, in_channels=1)
    with pytest.raises(tpc.UnsupportedTorchPruning, match=r"torch-pruning 1\.9\.0 is installed"):
        core_pruning.prune(model, torch.randn(1, 1, 28, 28), criterion="l1", keep_ratio=0.9)


def test_only_the_compat_module_imports_torch_pruning():
    from pathlib import Path

    root = Path(core_pruning.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py") if p.name != "_tp_compat.py"
                 and any(line.lstrip().startswith(("import torch_pruning", "from torch_pruning"))
                         for line in p.read_text().splitlines())]
    assert offenders == []


def test_patch_is_active_during_our_group_enumeration(monkeypatch):
    original = index_mapping.update_index_mapping
    _, dg = _graph()
    seen = []
    graph_modules = tpc.graph_modules

    def spy(graph):
        seen.append(index_mapping.update_index_mapping is not original)
        return graph_modules(graph)

    monkeypatch.setattr(tpc, "graph_modules", spy)
    assert collect_groups(dg, [])
    assert seen == [True] and index_mapping.update_index_mapping is original
