"""The training pipeline end to end at toy scale: distill (resumable) -> prune -> train-decoder -> stylize."""

from __future__ import annotations

import json

import pytest
import torch

from artnet.cli import main
from artnet.data import RandomCrops, wheel_image
from artnet.training import train_steps
from prunelab.runs import RunDir
from prunelab.training import cosine_lr


def test_random_crops_are_deterministic_and_in_range():
    images = {"a": wheel_image("coffee"), "b": wheel_image("brick")}
    first = RandomCrops(images, 32, seed=3).batch(4)
    again = RandomCrops(images, 32, seed=3).batch(4)
    assert first.shape == (4, 3, 32, 32) and torch.equal(first, again)
    assert first.min() >= 0 and first.max() <= 1
    assert not torch.equal(first, RandomCrops(images, 32, seed=4).batch(4))


def test_learning_rate_schedule():
    assert cosine_lr(0, 100, 1.0, warmup=10) == pytest.approx(0.1)
    assert cosine_lr(10, 100, 1.0, warmup=10) == pytest.approx(1.0)
    assert cosine_lr(100, 100, 1.0, warmup=10) == pytest.approx(0.02)


class _Stop(Exception):
    pass


def _toy_run(run, steps: int, stop_at: int | None = None):
    """A toy step-based run through artnet's training glue (the real sampler, a one-layer "network")."""
    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 3, 3, padding=1)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-2)
    sampler = RandomCrops({"a": wheel_image("coffee"), "b": wheel_image("brick")}, 16, seed=3)
    count = {"calls": 0}

    def losses(batch):
        count["calls"] += 1
        if count["calls"] == stop_at:
            raise _Stop
        loss = (net(batch) - batch.flip(1)).abs().mean()
        return {"loss": loss, "l1": loss}

    loop = train_steps("toy", RunDir(run, {"steps": steps}), steps=steps, lr=1e-2, batch=2, checkpoint_every=2,
                       modules={"net": net}, optimizer=optimizer, sampler=sampler, device=torch.device("cpu"),
                       compute_losses=losses, progress=False)
    return net, loop


def test_an_interrupted_run_resumes_exactly(tmp_path):
    straight, straight_loop = _toy_run(tmp_path / "a", 5)
    with pytest.raises(_Stop):
        _toy_run(tmp_path / "b", 5, stop_at=4)  # dies in step 4: the checkpoint holds step 2
    resumed, resumed_loop = _toy_run(tmp_path / "b", 5)
    assert resumed_loop.step == 5 and resumed_loop.history == straight_loop.history
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.slow  # ~90 s on 2 cores: calibration and PSNR run at 512 px
@pytest.mark.shared
def test_distill_prune_train_decoder_stylize(tmp_path, capsys, shared_dir, monkeypatch):
    run = tmp_path / "distill"
    weights = tmp_path / "weights"
    monkeypatch.setenv("PRUNELAB_WEIGHTS", str(weights))
    common = ["--batch", "2", "--crop", "64", "--threads", "1", "--no-shared", "--no-progress", "--json"]
    assert main(["distill", "--run", str(run), "--steps", "2", *common]) == 0
    capsys.readouterr()
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2]
    # same command with more steps resumes from the checkpoint instead of starting again
    unpruned = weights / "artnet_encoder_unpruned.pt"
    assert main(["distill", "--run", str(run), "--steps", "3", "--export", str(unpruned), *common]) == 2
    assert "different settings" in capsys.readouterr().err  # a changed schedule is refused, not mixed
    assert main(["distill", "--run", str(run), "--steps", "2", "--export", str(unpruned), *common]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and summary["train_images"] == 12
    card = json.loads(unpruned.with_suffix(".json").read_text())
    assert card["command"].startswith("python -m artnet distill") and card["seed"] == 0

    pruned = weights / "artnet_encoder.pt"
    assert main(["prune", "--encoder", str(unpruned), "--out", str(pruned), "--no-shared", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["identical_on_calibration"]["max_abs_diff"] < 1e-4
    assert (weights / "artnet_encoder_plan.json").exists()

    assert main(["train-decoder", "--run", str(tmp_path / "dec"), "--steps", "2",
                 "--export", str(weights / "artnet_decoder.pt"), *common]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["encoder_out_channels"] == report["output_channels"] and summary["psnr_heldout_512"] > 0

    content = shared_dir / "data" / "style" / "content" / "sailboat.jpg"
    style = shared_dir / "data" / "style" / "style" / "sketch.png"
    assert main(["stylize", "--content", str(content), "--style", str(style), "--out", str(tmp_path / "o.png"),
                 "--size", "64"]) == 0
