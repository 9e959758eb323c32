"""Loose parameters whose channels are not on their last dimension: ``prune(unwrapped_parameters=...)``.

Torch-Pruning prunes a loose ``nn.Parameter`` (used outside any layer) along its last non-singleton dimension
unless told otherwise (its ``unwrapped_parameters`` option). A ``(C, 2)`` scale-and-shift table has its channels
on dimension 0: without the option its conv is left whole and reported; with it the conv is pruned, and the plan
records the option so that replay on a fresh instance traces the same way.
"""

import pytest
import torch
from torch import nn

import core_pruning as cp
from core_pruning.plan import PlanMismatch
from prunelab.errors import InputError


class AffineNet(nn.Module):
    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, width, 3, padding=1)
        self.affine = nn.Parameter(torch.stack([torch.linspace(0.5, 1.5, width), torch.linspace(-1, 1, width)], 1))
        self.c2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.fc = nn.Linear(2 * width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.c1(x))
        x = x * self.affine[:, 0].view(1, -1, 1, 1) + self.affine[:, 1].view(1, -1, 1, 1)
        return self.fc(torch.relu(self.c2(x)).mean((2, 3)))


def _model() -> AffineNet:
    torch.manual_seed(0)
    return AffineNet().eval()


X = torch.randn(2, 3, 16, 16)


def test_without_the_option_the_group_is_left_whole_and_reported():
    result = cp.prune(_model(), X, criterion="l1", target_flops=0.6)
    assert result.model.c1.out_channels == 16
    assert "has no dimension matching" in result.report["unsupported"]["c1"]


def test_with_the_option_the_conv_and_its_table_are_pruned_and_replay_is_identical(tmp_path):
    result = cp.prune(_model(), X, criterion="l1", target_flops=0.6, unwrapped_parameters={"affine": 0})
    kept = result.model.c1.out_channels
    assert kept < 16 and result.model.affine.shape == (kept, 2)
    assert "c1" not in result.report["unsupported"]
    assert result.plan.unwrapped_parameters == {"affine": 0}
    expected = result.model(X)
    cp.save_pruned(result.model, result.plan, tmp_path / "m.pt")
    reloaded = cp.load_pruned(_model(), tmp_path / "m.pt", X)
    assert torch.equal(reloaded(X), expected)
    result.plan.save(tmp_path / "plan.json")
    assert cp.PruningPlan.load(tmp_path / "plan.json").unwrapped_parameters == {"affine": 0}


@pytest.mark.parametrize("spec, message", [({"nope": 0}, "has no parameter 'nope'"),
                                           ({"affine": 2}, r"affine \(16, 2\) has no dimension 2")])
def test_bad_names_and_dimensions_are_one_line_errors(spec, message):
    with pytest.raises(InputError, match=message):
        cp.prune(_model(), X, criterion="l1", target_flops=0.6, unwrapped_parameters=spec)


def test_a_malformed_plan_field_is_refused():
    data = cp.prune(_model(), X, criterion="l1", target_flops=0.6).plan.to_dict()
    with pytest.raises(PlanMismatch, match="unwrapped_parameters"):
        cp.PruningPlan.from_dict({**data, "unwrapped_parameters": {"affine": "0"}})


@pytest.mark.parametrize("value, message", [("affine", "expected NAME=DIM (e.g. affine=0), got 'affine'"),
                                            ("nope=0", "unwrapped_parameters: the model has no parameter 'nope'")])
def test_cli_option_errors_are_one_line(tmp_path, capsys, value, message):
    from core_pruning.cli import main

    try:
        code = main(["prune", "--model", "resnet20", "--input-size", "3,16,16", "--criterion", "l1", "--target-flops",
                     "0.6", "--unwrapped-parameter", value, "--out", str(tmp_path / "out")])
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_training_methods_take_the_option_too():
    """SFP/HFP/GHFP/CAC/DAIS share TrainingPruner: its masks see the table's channels, its plan records them."""
    from core_pruning.training.hfp import HFP

    model = _model()
    pruner = HFP(model, X, target_flops=0.6, unwrapped_parameters={"affine": 0})
    gi = next(i for i, g in enumerate(pruner.masks.groups) if g.root_name == "c1")
    pruner.masks.keep[gi][:4] = False
    result = pruner.finalize()
    assert result.model.c1.out_channels == 12 and result.model.affine.shape == (12, 2)
    assert result.plan.unwrapped_parameters == {"affine": 0}
    fresh = cp.apply_plan(_model(), cp.PruningPlan.from_dict(result.plan.to_dict()), X)
    assert fresh.affine.shape == (12, 2)
    assert not any(g.root_name == "c1" for g in HFP(_model(), X, target_flops=0.6).masks.groups)  # without it: whole
