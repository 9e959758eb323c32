"""Quality metrics measured with the teacher network (independent of the ArtNet encoder being judged).

* **Content loss**: mean squared difference of teacher ``relu4_1`` features (VGG width, via aux) between
  output and content -- the content loss of AdaIN/WCT papers.
* **Style loss**: over ``relu1_1..relu4_1`` (aux), either the mean/std matching loss of AdaIN
  (``sum_l |mu_l(o) - mu_l(s)|^2 / C + |sigma_l(o) - sigma_l(s)|^2 / C``) or the Gram loss
  (``sum_l |G_l(o) - G_l(s)|_F^2 / C^2`` with ``G = F F^T / N``).
* **Edge SSIM**: SSIM between Sobel edge magnitudes of the greyscale output and content -- does the
  stylised image keep the content's structure, independent of colours and textures.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .teacher import TeacherEncoder

STYLE_LEVELS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


@torch.no_grad()
def teacher_features(teacher: TeacherEncoder, image: Tensor) -> dict[str, Tensor]:
    """``relu1_1..relu4_1`` features of ``image`` at VGG width (aux lifts), without gradients."""
    return teacher.features(image, aux=True, upto=4)


def content_loss(out_feats: dict[str, Tensor], content_feats: dict[str, Tensor]) -> float:
    """Mean squared ``relu4_1`` difference between output and content features."""
    return float(((out_feats["relu4_1"] - content_feats["relu4_1"]) ** 2).mean())


def _mean_std(f: Tensor) -> tuple[Tensor, Tensor]:
    flat = f.flatten(2)
    return flat.mean(2), flat.std(2, unbiased=False)


def style_loss_meanstd(out_feats: dict[str, Tensor], style_feats: dict[str, Tensor]) -> float:
    """AdaIN's style loss: squared differences of channel means and standard deviations, summed over levels."""
    total = 0.0
    for level in STYLE_LEVELS:
        mo, so = _mean_std(out_feats[level])
        ms, ss = _mean_std(style_feats[level])
        total += float(((mo - ms) ** 2).mean() + ((so - ss) ** 2).mean())
    return total


def _gram(f: Tensor) -> Tensor:
    flat = f.flatten(2)
    return flat @ flat.transpose(1, 2) / flat.shape[2]


def style_loss_gram(out_feats: dict[str, Tensor], style_feats: dict[str, Tensor]) -> float:
    """Mean squared Gram-matrix difference (``G = F F^T / N``), summed over levels."""
    total = 0.0
    for level in STYLE_LEVELS:
        total += float(((_gram(out_feats[level]) - _gram(style_feats[level])) ** 2).mean())
    return total


def _grey(image: Tensor) -> Tensor:
    return (image * torch.tensor([0.299, 0.587, 0.114], device=image.device).view(1, 3, 1, 1)).sum(1, keepdim=True)


def sobel_magnitude(image: Tensor) -> Tensor:
    """Sobel gradient magnitude ``(N, 1, H, W)`` of the greyscale image (replicated border)."""
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], device=image.device).view(1, 1, 3, 3)
    grey = F.pad(_grey(image), (1, 1, 1, 1), mode="replicate")
    gx, gy = F.conv2d(grey, kx), F.conv2d(grey, kx.transpose(2, 3))
    return torch.sqrt(gx * gx + gy * gy)


def edge_ssim(output: Tensor, content: Tensor) -> float:
    """SSIM of the Sobel edge maps (scikit-image's SSIM, data range of the content's edges)."""
    from skimage.metrics import structural_similarity

    a = sobel_magnitude(output)[0, 0].cpu().numpy().astype(np.float64)
    b = sobel_magnitude(content)[0, 0].cpu().numpy().astype(np.float64)
    return float(structural_similarity(a, b, data_range=max(float(b.max() - b.min()), 1e-6)))


def psnr(output: Tensor, reference: Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1] (output clamped first)."""
    mse = float(((output.clamp(0, 1) - reference) ** 2).mean())
    return 10 * float(np.log10(1.0 / max(mse, 1e-12)))
