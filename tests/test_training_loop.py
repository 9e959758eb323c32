"""The shared training loop: learning, callbacks, resumable checkpoints, evaluation, DDP, errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from core_pruning.datasets import load_dataset
from core_pruning.training import Callback, EpochsToAccuracy, TrainConfig, Trainer, evaluate, train
from prunelab.errors import InputError
from prunelab.runs import load_checkpoint

REPO = Path(__file__).resolve().parents[1]


def tiny_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                         nn.Flatten(), nn.Linear(32, 10))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_training_learns_digits(digits):
    model = tiny_cnn()
    before = evaluate(model, digits.test)["accuracy"]
    result = train(model, digits.train, digits.test, epochs=4, lr=0.1, batch_size=32, progress=False)
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    assert result.final["val_accuracy"] > 0.8 > before + 0.3
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_evaluate_matches_manual_computation(digits):
    model = tiny_cnn().eval()
    x, y = digits.test.tensors
    with torch.no_grad():
        logits = model(x)
    metrics = evaluate(model, digits.test, batch_size=50)
    assert metrics["n"] == len(y)
    assert metrics["accuracy"] == pytest.approx(float((logits.argmax(1) == y).float().mean()))
    assert metrics["loss"] == pytest.approx(float(nn.functional.cross_entropy(logits, y)), rel=1e-5)


class Recorder(Callback):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_fit_start(self, trainer):
        self.events.append("fit_start")

    def on_epoch_start(self, trainer):
        self.events.append("epoch_start")

    def on_batch_start(self, trainer, inputs, targets):
        assert inputs.shape[0] == targets.shape[0]
        self.events.append("batch_start")

    def extra_loss(self, trainer, outputs):
        self.events.append("extra_loss")
        return outputs.sum() * 0.0

    def on_after_backward(self, trainer):
        self.events.append("after_backward")

    def on_step_end(self, trainer, batch):
        self.events.append("step_end")

    def on_train_epoch_end(self, trainer):
        self.events.append("train_epoch_end")

    def on_epoch_end(self, trainer, metrics):
        self.events.append(f"epoch_end:{'val_accuracy' in metrics}")
        metrics["extra"] = 1.0

    def on_fit_end(self, trainer):
        self.events.append("fit_end")


def test_callback_events_come_in_documented_order(digits):
    rec = Recorder()
    result = train(tiny_cnn(), digits.train, digits.test, epochs=1, steps_per_epoch=2, callbacks=[rec], progress=False)
    step = ["batch_start", "extra_loss", "after_backward", "step_end"]
    assert rec.events == ["fit_start", "epoch_start", *step, *step, "train_epoch_end", "epoch_end:True", "fit_end"]
    assert result.final["extra"] == 1.0


class StopAfter(Callback):
    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_epoch_end(self, trainer, metrics):
        trainer.should_stop = trainer.epoch >= self.epochs


def test_callback_can_stop_training_and_epochs_to_accuracy_records_first_hit(digits):
    reach = EpochsToAccuracy(0.0)
    never = EpochsToAccuracy(1.1)
    result = train(tiny_cnn(), digits.train, digits.test, epochs=5, steps_per_epoch=2,
                   callbacks=[StopAfter(2), reach, never], progress=False)
    assert len(result.history) == 2
    assert reach.epoch == 1 and never.epoch is None


class Counter(Callback):
    """Stateful callback: its state must survive a resume. ``crash_at``: simulate Ctrl-C at that epoch's start."""

    def __init__(self, crash_at: int | None = None) -> None:
        self.steps = 0
        self.crash_at = crash_at

    def on_epoch_start(self, trainer):
        if trainer.epoch == self.crash_at:
            raise KeyboardInterrupt

    def on_step_end(self, trainer, batch):
        self.steps += 1

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = state["steps"]


def test_resume_from_checkpoint_continues_bit_for_bit(digits, tmp_path):
    options = dict(epochs=3, batch_size=64, lr=0.05, steps_per_epoch=4, progress=False)
    straight = tiny_cnn()
    ref = Trainer(straight, TrainConfig(**options), [Counter()]).fit(digits.train, digits.test)

    ckpt = tmp_path / "run" / "ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        Trainer(tiny_cnn(), TrainConfig(**options, checkpoint=str(ckpt)), [Counter(crash_at=1)]).fit(digits.train,
                                                                                                 digits.test)
    torch.manual_seed(123)  # disturb the global RNG: the checkpoint must restore it
    resumed_model = tiny_cnn(seed=5)  # different init: the checkpoint must overwrite it
    counter = Counter()
    resumed = Trainer(resumed_model, TrainConfig(**options, checkpoint=str(ckpt)), [counter])
    result = resumed.fit(digits.train, digits.test)

    assert counter.steps == 12 and resumed.global_step == 12
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    for (name, a), b in zip(straight.state_dict().items(), resumed_model.state_dict().values()):
        assert torch.equal(a, b), name
    assert result.final["val_accuracy"] == ref.final["val_accuracy"]
    saved = load_checkpoint(ckpt)  # plain data only: loads with weights_only=True
    assert saved["epoch"] == 3 and saved["callbacks"][0]["state"] == {"steps": 12}
    assert not [p for p in ckpt.parent.iterdir() if p.name.endswith(".tmp")]


def test_bad_checkpoints_and_configs_are_input_errors(digits, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot read checkpoint"):
        Trainer(tiny_cnn(), TrainConfig(epochs=1, checkpoint=str(bad), progress=False)).fit(digits.train)
    ckpt = tmp_path / "ok.pt"
    train(tiny_cnn(), digits.train, epochs=1, steps_per_epoch=1, checkpoint=str(ckpt), progress=False)
    with pytest.raises(InputError, match="callbacks"):
        train(tiny_cnn(), digits.train, epochs=2, checkpoint=str(ckpt), callbacks=[Counter()], progress=False)
    other = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with pytest.raises(InputError, match="does not fit this model"):
        train(other, digits.train, epochs=2, checkpoint=str(ckpt), progress=False)
    for options, message in [({"lr": -1.0}, "lr"), ({"optimizer": "lbfgs"}, "optimizer"),
                             ({"schedule": "poly"}, "schedule"), ({"epochs": -1}, "epochs"), ({"nope": 1}, "nope")]:
        with pytest.raises(InputError, match=message):
            train(tiny_cnn(), digits.train, progress=False, **options)
    with pytest.raises(InputError, match="empty"):
        train(tiny_cnn(), TensorDataset(torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long)), progress=False)


def test_non_finite_loss_stops_with_a_clear_error(digits):
    with pytest.raises(FloatingPointError, match="learning rate"):
        train(tiny_cnn(), digits.train, epochs=1, lr=1e30, momentum=0.0, steps_per_epoch=20, progress=False)


DDP_SCRIPT = textwrap.dedent("""
    import sys, torch
    from torch import nn
    from torch.utils.data import TensorDataset
    from core_pruning.training import train, distributed


    def run():
        g = torch.Generator().manual_seed(0)
        data = TensorDataset(torch.randn(96, 6, generator=g), torch.randint(0, 3, (96,), generator=g))
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
        result = train(model, data, data, epochs=2, batch_size=16, lr=0.1, progress=False)
        return {"state": model.state_dict(), "history": result.history}


    if __name__ == "__main__":
        torch.set_num_threads(1)
        out = run()
        if distributed.current().is_main:
            torch.save(out, sys.argv[1])
""")


def test_ddp_under_torchrun_matches_single_process(tmp_path):
    """2 Gloo processes with half the batch each follow the single-process trajectory exactly (no BatchNorm)."""
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    namespace: dict = {}
    exec(compile(DDP_SCRIPT, str(script), "exec"), namespace)
    single = namespace["run"]()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    out = tmp_path / "ddp.pt"
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(script), str(out)], env=env, timeout=300, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    multi = torch.load(out, weights_only=True)
    for name, tensor in single["state"].items():
        torch.testing.assert_close(multi["state"][name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    for ha, hb in zip(single["history"], multi["history"]):
        assert hb["val_accuracy"] == ha["val_accuracy"]
        assert hb["train_loss"] == pytest.approx(ha["train_loss"], rel=1e-5)
