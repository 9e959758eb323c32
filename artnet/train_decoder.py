"""``python -m artnet train-decoder``: train the decoder to invert the (pruned) encoder.

Universal style transfer needs a decoder that maps *any* features of the encoder's space back to an
image, so it is trained for reconstruction only (as in WCT), with the encoder frozen:

    loss = |D(E(x)) - x|_1  +  w_p * sum_k  |T_k(D(E(x))) - T_k(x)|^2 / var(T_k(x)),   k = relu1_1..relu4_1

where ``T_k`` are the teacher's VGG-width (aux) features. The pixel term fixes colours and the perceptual
term keeps edges and textures sharp (pixel losses alone give blur). Reconstruction PSNR on held-out
images is reported in the card.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .data import RandomCrops, heldout_images, training_images
from .decoder import Decoder
from .encoder import GoogLeNetEncoder
from .images import to_tensor
from .padding import pad_to_multiple, unpad
from .teacher import load_teacher_encoder
from .training import RunDir, StepLoop, pick_device, resume, set_threads, smoothed
from .weights import load_encoder, round_to_half, save_decoder

TEACHER_LEVELS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


@dataclass
class DecoderConfig:
    encoder: str = ""
    steps: int = 1000
    batch: int = 8
    crop: int = 160
    lr: float = 2e-3
    perceptual_weight: float = 0.05
    widths: tuple[int, int, int, int] = (128, 64, 32, 16)
    seed: int = 0
    threads: int = 2
    device: str = "auto"
    checkpoint_every: int = 50
    use_shared: bool = True


def decoder_losses(encoder: GoogLeNetEncoder, decoder: Decoder, teacher: nn.Module, batch: Tensor,
                   perceptual_weight: float) -> dict[str, Tensor]:
    with torch.no_grad():
        features = encoder(batch)
        targets = teacher.features(batch, aux=True)
    output = decoder(features)
    losses = {"pixel": (output - batch).abs().mean()}
    predicted = teacher.features(output, aux=True)
    perceptual = batch.new_zeros(())
    for level in TEACHER_LEVELS:
        scale = targets[level].var(dim=(0, 2, 3)).mean().clamp_min(1e-6)
        perceptual = perceptual + ((predicted[level] - targets[level]) ** 2).mean() / scale
    losses["perceptual"] = perceptual
    losses["loss"] = losses["pixel"] + perceptual_weight * perceptual
    return losses


@torch.no_grad()
def reconstruction_psnr(encoder: GoogLeNetEncoder, decoder: Decoder, images: dict, size: int = 512) -> float:
    """Mean PSNR (dB) of ``decoder(encoder(x))`` over ``images`` resized to long side ``size``."""
    from .images import fit_long_side, resize

    values = []
    for array in images.values():
        x = to_tensor(array)
        x = resize(x, *fit_long_side(x.shape[2], x.shape[3], size))
        padded, size_hw = pad_to_multiple(x, 8)
        y = unpad(decoder(encoder(padded)), size_hw).clamp(0, 1)
        mse = float(((y - x) ** 2).mean())
        values.append(10 * math.log10(1.0 / max(mse, 1e-12)))
    return float(sum(values) / len(values))


def run_decoder_training(config: DecoderConfig, run: str | Path, export: str | Path | None = None,
                         progress: bool = True) -> dict[str, Any]:
    """Train (or resume) the decoder for the encoder in ``config.encoder``; export float16 weights at the end."""
    set_threads(config.threads)
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    run_dir = RunDir(run, {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()})
    encoder = load_encoder(config.encoder or None).to(device).requires_grad_(False)
    teacher = load_teacher_encoder(4).to(device)
    decoder = Decoder(encoder.out_channels, config.widths).to(device)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=config.lr)
    train_images = training_images(config.use_shared)
    sampler = RandomCrops(train_images, config.crop, seed=config.seed)
    modules = {"decoder": decoder}
    state = resume(run_dir, modules, optimizer, sampler)
    decoder.train()
    loop = StepLoop("train-decoder", config.steps, config.lr, config.batch, config.checkpoint_every, modules,
                    optimizer, sampler, run_dir, device)
    timer = loop.run(state, lambda batch: decoder_losses(encoder, decoder, teacher, batch, config.perceptual_weight),
                     progress=progress)
    decoder.eval().cpu()
    round_to_half(decoder)  # the shipped weights are float16: measure what is shipped
    encoder.cpu()
    held = heldout_images(config.use_shared)
    train_subset = dict(list(train_images.items())[:: max(1, len(train_images) // 10)])
    summary = {
        "steps": state.step,
        "train_seconds": round(timer.seconds, 1),
        "train_loss_last50": round(smoothed(state.history, "loss"), 5),
        "train_pixel_l1_last50": round(smoothed(state.history, "pixel"), 5),
        "train_perceptual_last50": round(smoothed(state.history, "perceptual"), 5),
        "psnr_heldout_512": round(reconstruction_psnr(encoder, decoder, held), 2),
        "psnr_train_512": round(reconstruction_psnr(encoder, decoder, train_subset), 2),
        "heldout_images": len(held),
        "encoder_out_channels": encoder.out_channels,
        "device": str(device),
    }
    if export is not None:
        save_decoder(decoder, export, meta={"config": {k: (list(v) if isinstance(v, tuple) else v)
                                                       for k, v in asdict(config).items()}, "summary": summary})
    return summary
