"""The one training engine (prunelab.training.StepLoop) and run folders (prunelab.runs.RunDir)."""

from __future__ import annotations

import json
from functools import partial

import pytest
import torch
from torch import nn

from prunelab.errors import InputError
from prunelab.runs import RunDir
from prunelab.training import StepLoop, cosine_lr, schedule_factor, smoothed


class Sampler:
    """An infinite batch source with a checkpointable generator (like artnet's crop samplers)."""

    def __init__(self, seed: int) -> None:
        self.generator = torch.Generator().manual_seed(seed)

    def batch(self) -> torch.Tensor:
        return torch.randn(4, 3, generator=self.generator)

    def state_dict(self) -> torch.Tensor:
        return self.generator.get_state()

    def load_state_dict(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


class Interrupt(Exception):
    pass


def _run(run_dir: RunDir, steps: int, stop_at: int | None = None, seed: int = 0) -> tuple[nn.Module, StepLoop]:
    torch.manual_seed(seed)  # a resumed run starts from other weights: the checkpoint must overwrite them
    model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.2), nn.Linear(8, 1))  # dropout: the global RNG matters
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    loop = StepLoop(optimizer, partial(cosine_lr, total=steps, base=0.05, warmup=2), grad_clip=1.0)
    sampler = Sampler(7)
    parts = {"model": model, "sampler": sampler}
    loop.resume(run_dir.checkpoint, parts)

    def losses(x: torch.Tensor) -> dict[str, torch.Tensor]:
        if loop.step == stop_at:
            raise Interrupt
        mse = (model(x).squeeze(1) - x.sum(1)).pow(2).mean()
        return {"loss": mse, "mse": mse}

    def evaluate(loop: StepLoop) -> None:
        loop.annotate({"held_out": round(float(model(torch.ones(1, 3)).detach()), 6)}, run_dir)

    loop.run(steps, sampler.batch, losses, run_dir, checkpoint_every=3, parts=parts, on_checkpoint=evaluate,
             progress=False)
    return model, loop


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    config = {"steps": 8, "lr": 0.05}
    straight, straight_loop = _run(RunDir(tmp_path / "a", config), 8)
    with pytest.raises(Interrupt):
        _run(RunDir(tmp_path / "b", config), 8, stop_at=4)  # last checkpoint: step 3
    torch.manual_seed(99)
    resumed, resumed_loop = _run(RunDir(tmp_path / "b", config), 8, seed=5)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed_loop.step == 8 and resumed_loop.history == straight_loop.history
    assert [r["step"] for r in straight_loop.history] == list(range(1, 9))
    assert "held_out" in straight_loop.history[2] and "held_out" in straight_loop.history[-1]
    log = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == list(range(1, 9))
    assert [r["step"] for r in log if "held_out" in r] == [3, 6, 8]
    resumed_log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    # the interrupted run logged step 4 before its checkpoint at 3 was resumed: it appears twice, same values
    assert [r for r in resumed_log if r["step"] != 4] == [r for r in log if r["step"] != 4]
    assert not [p for p in (tmp_path / "b").iterdir() if p.name.endswith(".tmp")]


def test_run_folder_refuses_changed_settings_but_not_resumable_ones(tmp_path):
    RunDir(tmp_path, {"steps": 4, "threads": 1})
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    RunDir(tmp_path, {"steps": 4, "threads": 2, "device": "cpu"})  # resumable / new settings are fine
    with pytest.raises(InputError, match=r"different settings \(steps\); use another run folder") as caught:
        RunDir(tmp_path, {"steps": 5, "threads": 2})
    assert "--run folder" in caught.value.render(for_cli=True)
    assert json.loads((tmp_path / "config.json").read_text())["threads"] == 2


def test_function_schedule_sets_the_rate_and_a_scheduler_is_stepped_and_checkpointed(tmp_path):
    param = nn.Parameter(torch.ones(2))
    optimizer = torch.optim.SGD([param], lr=1.0)
    rates = []
    loop = StepLoop(optimizer, lambda step: 0.1 * (step + 1))
    for _ in range(3):
        loop.optimise(param.sum(), after_backward=lambda: rates.append(optimizer.param_groups[0]["lr"]))
    assert rates == pytest.approx([0.1, 0.2, 0.3]) and loop.step == 3
    assert torch.allclose(param.detach(), torch.full((2,), 1 - 0.6))

    optimizer = torch.optim.SGD([param], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, partial(schedule_factor, "step", total=4))
    loop = StepLoop(optimizer, scheduler)
    for _ in range(2):
        loop.optimise(param.sum())
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)  # x0.1 from half-way
    loop.log({"step": loop.step, "loss": 1.0})
    loop.save(tmp_path / "c.pt")
    fresh = torch.optim.SGD([param], lr=1.0)
    again = StepLoop(fresh, torch.optim.lr_scheduler.LambdaLR(fresh, partial(schedule_factor, "step", total=4)))
    saved = again.resume(tmp_path / "c.pt")
    assert saved is not None and again.step == 2 and again.history == [{"step": 2, "loss": 1.0}]
    assert again.schedule.last_epoch == 2 and fresh.param_groups[0]["lr"] == pytest.approx(0.1)
    assert again.seconds >= saved["loop"]["seconds"]
    assert StepLoop(optimizer).resume(tmp_path / "missing.pt") is None


def test_non_finite_loss_stops_before_the_weights_change():
    param = nn.Parameter(torch.ones(2))
    loop = StepLoop(torch.optim.SGD([param], lr=1.0))
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        loop.optimise(param.sum() * float("nan"))
    assert torch.equal(param.detach(), torch.ones(2)) and loop.step == 0


def test_a_checkpoint_that_does_not_fit_is_an_input_error(tmp_path):
    small = nn.Linear(2, 1)
    StepLoop(torch.optim.SGD(small.parameters(), lr=0.1)).save(tmp_path / "c.pt", {"model": small})
    large = nn.Linear(3, 1)
    with pytest.raises(InputError, match="does not fit this model"):
        StepLoop(torch.optim.SGD(large.parameters(), lr=0.1)).resume(tmp_path / "c.pt", {"model": large})
    with pytest.raises(InputError, match="does not fit this sampler"):
        StepLoop(torch.optim.SGD(small.parameters(), lr=0.1)).resume(tmp_path / "c.pt", {"sampler": Sampler(0)})


def test_schedules_and_smoothing():
    assert cosine_lr(0, 100, 1.0, warmup=10) == pytest.approx(0.1)
    assert cosine_lr(100, 100, 1.0, warmup=10) == pytest.approx(0.02)
    assert schedule_factor("cosine", 0, 10) == 1.0 and schedule_factor("cosine", 10, 10) == pytest.approx(0.0)
    assert schedule_factor("constant", 3, 10, warmup=4) == 1.0
    assert smoothed([{"a": 1.0}, {"b": 5.0}, {"a": 3.0}], "a") == 2.0
    assert smoothed([], "a") != smoothed([], "a")  # NaN


def test_checkpoints_of_other_writers_are_refused_in_one_line(tmp_path):
    from core_pruning.training import TrainConfig, Trainer
    from prunelab.runs import save_checkpoint

    save_checkpoint(tmp_path / "old.pt", {"model": {}, "optimizer": {}})  # no loop state: an older format
    with pytest.raises(InputError, match="no training-loop state"):
        StepLoop(torch.optim.SGD([nn.Parameter(torch.ones(1))], lr=0.1)).resume(tmp_path / "old.pt")
    net = nn.Linear(2, 1)
    StepLoop(torch.optim.SGD(net.parameters(), lr=0.1)).save(tmp_path / "step.pt", {"model": net})
    with pytest.raises(InputError, match="not written by this trainer"):
        Trainer(net, TrainConfig(progress=False)).load_checkpoint(tmp_path / "step.pt")


def test_the_engine_is_in_the_base_package():
    """prunelab.training imports none of the packages that train with it."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, prunelab.training, prunelab.runs; bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('core_pruning', 'artnet', 'cp_predict', 'demos', 'torch_pruning')); print(bad); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
