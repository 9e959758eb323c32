"""``python -m artnet train-decoder``: train the decoder for the (pruned, frozen) encoder.

Two objectives (``--objective``):

* ``reconstruction`` (the shipped decoder so far; as in WCT) -- invert the encoder on any image:

      L_rec = |D(E(x)) - x|_1  +  w_p * sum_k |T_k(D(E(x))) - T_k(x)|^2 / var(T_k(x)),   k = relu1_1..relu4_1

  where ``T_k`` are the teacher's VGG-width (aux) features: pixels fix colours, the perceptual term edges.
* ``adain`` -- the AdaIN paper's objective (Huang & Belongie 2017), measured through the teacher, on random
  content x style crop pairs of the stylisation split's train part (:data:`artnet.data.STYLIZATION_SPLIT`), with
  the reconstruction term kept so that ``alpha`` still trades style for content:

      t = AdaIN(E(c), E(s));   L = w_c |T_4(D(t)) - AdaIN(T_4(c), T_4(s))|^2
                                   + w_s sum_k (|mu(T_k(D(t))) - mu(T_k(s))|^2 + |sigma(..) - sigma(T_k(s))|^2)
                                   + w_r L_rec(c)

  Reading: the content target is AdaIN *in the teacher's relu4_1 space* (the paper's target is AdaIN in the
  loss network's space, which is its encoder; ours is not the loss network), and the style term is the metric
  of :func:`artnet.metrics.style_loss_meanstd`. Every checkpoint scores the decoder on the split's validation
  pairs with the teacher metric, as a ratio to the teacher's own AdaIN (``val_content_ratio``,
  ``val_style_ratio`` in the log): that is where settings are chosen, never on the test pairs.
* ``teacher`` -- imitate the teacher's stylisation: on the same pairs, the decoder's output for ArtNet's AdaIN is
  pulled toward the teacher's own AdaIN result ``y = D_T(AdaIN(T(c), T(s)))`` (enc4/dec4, as in the quality
  benchmark) with the reconstruction losses, image against image:

      L = w_c (|D(t) - y|_1 + w_p sum_k |T_k(D(t)) - T_k(y)|^2 / var(T_k(y)))
          + w_s sum_k (|mu(T_k(D(t))) - mu(T_k(y))|^2 + |sigma(..) - sigma(T_k(y))|^2) + w_r L_rec(c)

  The statistics term matches the channel statistics of the teacher's *result* at relu1_1..relu4_1: regression
  toward an image alone averages textures out (first run: the validation style ratio rose from 1.6 to 2.0 in 100
  steps while content stayed), and those statistics are what the style metric reads.

  Reading: the quality target is "at least the teacher's AdaIN under the teacher metric", so the most direct
  signal is the teacher's own output; the adain objective instead asks the decoder to solve the problem the
  teacher's decoder only approximates, and moved ArtNet to "more style, less content" than the teacher.

``--skips`` (any objective) adds the encoder's ``conv3`` and ``conv1`` features as zero-initialised skips
(:mod:`artnet.skips`), AdaIN-aligned to the style at their own level in the stylisation objectives and the
content's own in reconstruction; with ``--init`` the given decoder is widened by them, so training starts
from its images.

Reconstruction PSNR on held-out images is reported in the card either way.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from prunelab.device import resolve_device, set_threads
from prunelab.errors import InputError
from prunelab.runs import RunDir
from prunelab.training import StepLoop, smoothed

from .data import PairCrops, RandomCrops, heldout_images, split_images, training_images
from .decoder import Decoder
from .encoder import GoogLeNetEncoder
from .images import to_tensor
from .padding import pad_to_multiple, unpad
from .skips import encode_levels, transfer_batch, with_skips
from .teacher import load_teacher_decoder, load_teacher_encoder
from .training import train_steps
from .transforms import adain_batch
from .weights import load_decoder, load_encoder, round_to_half, save_decoder

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
    objective: str = "reconstruction"
    content_weight: float = 1.0
    style_weight: float = 1.0
    reconstruction_weight: float = 1.0
    validation_size: int = 256
    init: str = ""
    skips: bool = False


OBJECTIVES = ("reconstruction", "adain", "teacher")


def decoder_losses(encoder: GoogLeNetEncoder, decoder: Decoder, teacher: nn.Module, batch: Tensor,
                   perceptual_weight: float, features: Tensor | None = None,
                   targets: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
    """Reconstruction losses ``pixel``, ``perceptual`` and their weighted sum ``loss`` (module docstring).

    ``features``: the batch's bottleneck features, or ``(bottleneck, skips)`` for a decoder with skips."""
    with torch.no_grad():
        features = encode_levels(encoder, batch, decoder) if features is None else features
        targets = teacher.features(batch, aux=True) if targets is None else targets
    bottleneck, skips = features if isinstance(features, tuple) else (features, None)
    return image_losses(decoder(bottleneck, skips or None), batch, targets, teacher, perceptual_weight)


def image_losses(output: Tensor, target: Tensor, target_features: dict[str, Tensor], teacher: nn.Module,
                 perceptual_weight: float, predicted: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
    """``pixel`` (L1), ``perceptual`` (teacher features, variance-normalised) and ``loss`` of output vs target.

    ``predicted``: the output's teacher features when the caller has them already."""
    losses = {"pixel": (output - target).abs().mean()}
    predicted = teacher.features(output, aux=True) if predicted is None else predicted
    perceptual = output.new_zeros(())
    for level in TEACHER_LEVELS:
        scale = target_features[level].var(dim=(0, 2, 3)).mean().clamp_min(1e-6)
        perceptual = perceptual + ((predicted[level] - target_features[level]) ** 2).mean() / scale
    losses["perceptual"] = perceptual
    losses["loss"] = losses["pixel"] + perceptual_weight * perceptual
    return losses


def _mean_std_loss(output: Tensor, target: Tensor) -> Tensor:
    flat_o, flat_t = output.flatten(2), target.flatten(2)
    return (((flat_o.mean(2) - flat_t.mean(2)) ** 2).mean()
            + ((flat_o.std(2, unbiased=False) - flat_t.std(2, unbiased=False)) ** 2).mean())


def stylization_losses(encoder: GoogLeNetEncoder, decoder: Decoder, teacher: nn.Module, batch: Tensor,
                       config: DecoderConfig) -> dict[str, Tensor]:
    """The ``adain`` objective on a :class:`artnet.data.PairCrops` batch (contents, then styles)."""
    content, style, fc, t = _transferred(encoder, decoder, batch)
    with torch.no_grad():
        tc = teacher.features(content, aux=True)
        ts = teacher.features(style, aux=True)
        target = adain_batch(tc["relu4_1"], ts["relu4_1"])
    predicted = teacher.features(decoder(*t), aux=True)
    losses = {"content": ((predicted["relu4_1"] - target) ** 2).mean(),
              "style": sum(_mean_std_loss(predicted[level], ts[level]) for level in TEACHER_LEVELS)}
    rec = decoder_losses(encoder, decoder, teacher, content, config.perceptual_weight, features=fc, targets=tc)
    losses.update(pixel=rec["pixel"], perceptual=rec["perceptual"], reconstruction=rec["loss"])
    losses["loss"] = (config.content_weight * losses["content"] + config.style_weight * losses["style"]
                      + config.reconstruction_weight * rec["loss"])
    return losses


def _transferred(encoder: GoogLeNetEncoder, decoder: Decoder, batch: Tensor
                 ) -> tuple[Tensor, Tensor, tuple[Tensor, dict], tuple[Tensor, dict | None]]:
    """Split a pair batch; the contents' ``(bottleneck, skips)`` and the AdaIN-transferred decoder arguments."""
    n = batch.shape[0] // 2
    content, style = batch[:n], batch[n:]
    with torch.no_grad():
        transferred, own = transfer_batch(encoder, decoder, content, style)
    return content, style, own, transferred


def imitation_losses(encoder: GoogLeNetEncoder, decoder: Decoder, teacher: nn.Module, teacher_decoder: nn.Module,
                     batch: Tensor, config: DecoderConfig) -> dict[str, Tensor]:
    """The ``teacher`` objective on a :class:`artnet.data.PairCrops` batch (contents, then styles)."""
    content, style, fc, t = _transferred(encoder, decoder, batch)
    with torch.no_grad():
        goal = teacher_decoder(adain_batch(teacher(content), teacher(style))).clamp(0, 1)
        goal_features = teacher.features(goal, aux=True)
    output = decoder(*t)
    predicted = teacher.features(output, aux=True)
    imitation = image_losses(output, goal, goal_features, teacher, config.perceptual_weight, predicted)
    losses = {"imitation": imitation["loss"], "imitation_pixel": imitation["pixel"]}
    total = config.content_weight * imitation["loss"]
    if config.style_weight:
        losses["style"] = sum(_mean_std_loss(predicted[level], goal_features[level]) for level in TEACHER_LEVELS)
        total = total + config.style_weight * losses["style"]
    rec = decoder_losses(encoder, decoder, teacher, content, config.perceptual_weight, features=fc)
    losses.update(pixel=rec["pixel"], perceptual=rec["perceptual"], reconstruction=rec["loss"])
    losses["loss"] = total + config.reconstruction_weight * rec["loss"]
    return losses


class ValidationScore:
    """Teacher-scored content and mean/std style loss on the validation pairs, as ratios to the teacher's AdaIN.

    The teacher's own AdaIN results are computed once; each call stylises the same pairs with the current
    decoder (AdaIN on the ArtNet encoder, no tiling: validation images are small) and returns
    ``{"val_content_ratio", "val_style_ratio"}`` (below 1 = better than the teacher on that term).
    """

    def __init__(self, encoder: GoogLeNetEncoder, teacher: nn.Module, use_shared: bool, size: int,
                 device: torch.device):
        from .images import fit_long_side, resize
        from .metrics import teacher_features
        from .teacher import load_teacher_decoder

        def prepare(array) -> Tensor:
            x = to_tensor(array)
            x = resize(x, *fit_long_side(x.shape[2], x.shape[3], size))
            return pad_to_multiple(x, 8)[0].to(device)

        contents = [prepare(a) for a in split_images("validation", "content", use_shared).values()]
        styles = [prepare(a) for a in split_images("validation", "style", use_shared).values()]
        self.pairs = [(c, s) for c in contents for s in styles]
        self.encoder, self.teacher = encoder, teacher
        self.features = lambda image: teacher_features(teacher, image)
        teacher_decoder = load_teacher_decoder(4).to(device).eval()
        with torch.no_grad():
            self.reference = self._scores(lambda c, s: teacher_decoder(adain_batch(teacher(c), teacher(s))))

    def _scores(self, stylise) -> tuple[float, float]:
        from .metrics import content_loss, style_loss_meanstd

        content_total = style_total = 0.0
        for c, s in self.pairs:
            out = stylise(c, s).clamp(0, 1)
            out_feats = self.features(out)
            content_total += content_loss(out_feats, self.features(c))
            style_total += style_loss_meanstd(out_feats, self.features(s))
        return content_total / len(self.pairs), style_total / len(self.pairs)

    @torch.no_grad()
    def __call__(self, decoder: Decoder, alpha: float = 1.0) -> dict[str, float]:
        if not self.pairs:
            return {}
        was_training = decoder.training
        decoder.eval()

        def stylise(c: Tensor, s: Tensor) -> Tensor:
            return decoder(*transfer_batch(self.encoder, decoder, c, s, alpha)[0])

        try:
            content, style = self._scores(stylise)
        finally:
            decoder.train(was_training)
        return {"val_content_ratio": round(content / self.reference[0], 4),
                "val_style_ratio": round(style / self.reference[1], 4)}


@torch.no_grad()
def reconstruction_psnr(encoder: GoogLeNetEncoder, decoder: Decoder, images: dict, size: int = 512) -> float:
    """Mean PSNR (dB) of ``decoder(encoder(x))`` over ``images`` resized to long side ``size``."""
    from .images import fit_long_side, resize

    values = []
    for array in images.values():
        x = to_tensor(array)
        x = resize(x, *fit_long_side(x.shape[2], x.shape[3], size))
        padded, size_hw = pad_to_multiple(x, 8)
        features, skips = encode_levels(encoder, padded, decoder)
        y = unpad(decoder(features, skips or None), size_hw).clamp(0, 1)
        mse = float(((y - x) ** 2).mean())
        values.append(10 * math.log10(1.0 / max(mse, 1e-12)))
    return float(sum(values) / len(values))


def run_decoder_training(config: DecoderConfig, run: str | Path, export: str | Path | None = None,
                         progress: bool = True) -> dict[str, Any]:
    """Train (or resume) the decoder for the encoder in ``config.encoder``; export float16 weights at the end."""
    if config.objective not in OBJECTIVES:
        raise InputError(f"unknown objective {config.objective!r}; choose from {', '.join(OBJECTIVES)}")
    set_threads(config.threads)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    run_dir = RunDir(run, {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()})
    encoder = load_encoder(config.encoder or None).to(device).requires_grad_(False)
    teacher = load_teacher_encoder(4).to(device)
    if config.init:  # start from trained weights (e.g. the shipped reconstruction decoder); a checkpoint wins
        decoder = load_decoder(config.init).train().to(device)
        if decoder.in_channels != encoder.out_channels:
            raise InputError(f"{{option}} decoder {config.init} takes {decoder.in_channels} channels, the encoder "
                             f"gives {encoder.out_channels}", option="init")
    else:
        decoder = Decoder(encoder.out_channels, config.widths).to(device)
    if config.skips:
        decoder = with_skips(decoder, encoder)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=config.lr)
    if config.objective in ("adain", "teacher"):
        train_images = split_images("train", "content", config.use_shared)
        styles = split_images("train", "style", config.use_shared)
        if not styles:
            raise InputError(f"the {config.objective} objective needs the ../shared style paintings "
                             "(set PRUNELAB_SHARED)")
        sampler = PairCrops(train_images, styles, config.crop, seed=config.seed)
        validation = ValidationScore(encoder, teacher, config.use_shared, config.validation_size, device)
        teacher_decoder = load_teacher_decoder(4).to(device).eval().requires_grad_(False)

        def compute(batch: Tensor) -> dict[str, Tensor]:
            if config.objective == "teacher":
                return imitation_losses(encoder, decoder, teacher, teacher_decoder, batch, config)
            return stylization_losses(encoder, decoder, teacher, batch, config)

        def on_checkpoint(loop: StepLoop) -> None:
            loop.annotate(validation(decoder), run_dir)
    else:
        train_images = training_images(config.use_shared)
        sampler = RandomCrops(train_images, config.crop, seed=config.seed)

        def compute(batch: Tensor) -> dict[str, Tensor]:
            return decoder_losses(encoder, decoder, teacher, batch, config.perceptual_weight)

        on_checkpoint = None
    decoder.train()
    loop = train_steps("train-decoder", run_dir, steps=config.steps, lr=config.lr, batch=config.batch,
                       checkpoint_every=config.checkpoint_every, modules={"decoder": decoder}, optimizer=optimizer,
                       sampler=sampler, device=device, compute_losses=compute, on_checkpoint=on_checkpoint,
                       progress=progress)
    history = loop.history
    decoder.eval().cpu()
    round_to_half(decoder)  # the shipped weights are float16: measure what is shipped
    encoder.cpu()
    held = heldout_images(config.use_shared)
    train_subset = dict(list(train_images.items())[:: max(1, len(train_images) // 10)])
    summary = {
        "steps": loop.step,
        "train_seconds": round(loop.seconds, 1),
        "train_loss_last50": round(smoothed(history, "loss"), 5),
        "train_pixel_l1_last50": round(smoothed(history, "pixel"), 5),
        "train_perceptual_last50": round(smoothed(history, "perceptual"), 5),
        "objective": config.objective,
        **{f"train_{key}_last50": round(smoothed(history, key), 5) for key in ("content", "style", "imitation")
           if history and key in history[-1]},
        **({key: value for key, value in history[-1].items() if key.startswith("val_")} if history else {}),
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
