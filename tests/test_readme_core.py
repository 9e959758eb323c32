"""Every Python code block of the README's core_pruning sections runs as written (in a temporary folder).

The sections are "core_pruning — channel pruning for PyTorch CNNs" and "Training-time pruning"; the blocks are
executed unmodified. The training block trains a ResNet-20 for 10 epochs, so it runs under ``slow``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def core_blocks() -> list[str]:
    text = README.read_text()
    start = text.index("\n## core_pruning")
    end = text.index("\n## artnet")
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


BLOCKS = core_blocks()
SLOW = [i for i, b in enumerate(BLOCKS) if "train_prune(" in b]


def test_the_readme_has_the_blocks_this_test_expects():
    assert len(BLOCKS) >= 2 and SLOW, "the prune and training blocks are found"
    assert "fold_constants" not in README.read_text()  # the option is fold_constant


def _run(block: str, tmp_path: Path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    return namespace


@pytest.mark.parametrize("index", [i for i in range(len(BLOCKS)) if i not in SLOW])
def test_readme_block_runs(index, tmp_path, monkeypatch, capsys):
    namespace = _run(BLOCKS[index], tmp_path, monkeypatch)
    result = namespace.get("result")
    if result is not None and hasattr(result, "report"):
        assert abs(result.report["flops_ratio"] - 0.5) <= 0.02


@pytest.mark.slow
@pytest.mark.parametrize("index", SLOW)
def test_readme_training_block_runs(index, tmp_path, monkeypatch):
    _run(BLOCKS[index], tmp_path, monkeypatch)
