"""Pictures of a prediction: per-joint importance bars, the joint x time heatmap, an animated skeleton.

Used by the demo tab; everything renders off-screen (matplotlib Agg, Pillow), nothing is shown or kept.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from cp_predict import RESEARCH_NOTICE  # noqa: E402
from cp_predict.skeleton import BONES, JOINT_NAMES  # noqa: E402

BODY_PARTS = ("nose", "eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle")
COLORMAP = "inferno"


def importance_chart(importance: dict[str, float], title: str = "Joint importance",
                     cohort: dict[str, float] | None = None) -> Figure:
    """Horizontal bars per body part, right and left side by side (neck/nose as centre joints).

    ``cohort``: the training infants' average importance, drawn as black ticks on the bars, so what is
    specific to this infant (a bar far from its tick) shows.
    """
    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=100)
    rows = ["neck", *BODY_PARTS]
    y = np.arange(len(rows))
    right = [importance.get(f"r_{p}", np.nan) if p not in ("neck", "nose") else np.nan for p in rows]
    left = [importance.get(f"l_{p}", np.nan) if p not in ("neck", "nose") else np.nan for p in rows]
    centre = [importance.get(p, np.nan) if p in ("neck", "nose") else np.nan for p in rows]
    ax.barh(y - 0.2, right, height=0.4, color="#d95f02", label="right")
    ax.barh(y + 0.2, left, height=0.4, color="#1b9e77", label="left")
    ax.barh(y, centre, height=0.5, color="#7570b3", label="centre")
    if cohort:
        for offset, prefix in ((-0.2, "r_"), (0.2, "l_")):
            values = [cohort.get(f"{prefix}{p}", np.nan) if p not in ("neck", "nose") else np.nan for p in rows]
            ax.scatter(values, y + offset, marker="|", s=120, color="black", zorder=3)
        ax.scatter([cohort.get(p, np.nan) if p in ("neck", "nose") else np.nan for p in rows], y, marker="|", s=120,
                   color="black", zorder=3, label="cohort average")
    ax.set_yticks(y, rows)
    ax.invert_yaxis()
    ax.set_xlabel("share of total importance")
    ax.set_title(title, fontsize=11)
    ax.legend(loc="lower right", fontsize=8)
    fig.text(0.01, 0.01, RESEARCH_NOTICE, fontsize=7, color="#666")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def importance_heatmap(joint_time: np.ndarray, fps: float, title: str = "Joint x time importance (Grad-CAM)"
                       ) -> Figure:
    """Joints (rows) over time (seconds) of a ``(T, 18)`` map."""
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    t = joint_time.shape[0] / fps
    im = ax.imshow(joint_time.T, aspect="auto", cmap=COLORMAP, extent=(0, t, len(JOINT_NAMES) - 0.5, -0.5),
                   vmin=0, vmax=max(float(joint_time.max()), 1e-6))
    ax.set_yticks(range(len(JOINT_NAMES)), JOINT_NAMES, fontsize=7)
    ax.set_xlabel("time (s)")
    ax.set_title(title, fontsize=11)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.text(0.01, 0.01, RESEARCH_NOTICE, fontsize=7, color="#666")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def skeleton_gif(positions: np.ndarray, importance: np.ndarray, path: str | Path, fps: float = 25.0,
                 max_frames: int = 150, size: int = 320) -> Path:
    """Animated GIF of ``(2, T, 18)`` positions; joints coloured (and sized) by importance.

    ``importance`` is ``(18,)`` (static) or ``(T, 18)`` (e.g. the Grad-CAM map, so colour follows time).
    At most ``max_frames`` frames are drawn (evenly subsampled); the GIF plays in real time. Each frame has
    a colour legend (low to high importance) and "L" / "R" beside the infant's left and right wrists and
    ankles (the infant's own sides, which for a supine infant filmed from above are mirrored on screen).
    """
    t = positions.shape[1]
    step = max(1, int(np.ceil(t / max_frames)))
    frames_idx = np.arange(0, t, step)
    imp = np.asarray(importance, dtype=float)
    imp = np.broadcast_to(imp, (t, imp.shape[-1])) if imp.ndim == 1 else imp
    imp = imp / max(float(imp.max()), 1e-12)
    xy = positions[:, frames_idx]
    lo, hi = np.nanmin(xy, axis=(1, 2)), np.nanmax(xy, axis=(1, 2))
    scale = (size - 40) / max(float((hi - lo).max()), 1e-6)
    offset = (size - scale * (hi - lo)) / 2 - scale * lo
    # A fixed palette (white, grey, black, text, then the colour map) makes frames "P" images directly,
    # which Pillow writes to GIF without the slow per-frame colour quantisation.
    levels = 64
    ramp = (255 * plt.get_cmap(COLORMAP)(np.linspace(0.15, 0.95, levels))[:, :3]).astype(int)
    palette = [255, 255, 255, 150, 150, 150, 0, 0, 0, 90, 90, 90, *ramp.reshape(-1).tolist()]
    ascii_notice = RESEARCH_NOTICE.replace("—", "-")  # Pillow's built-in font has no em dash
    top = 22  # legend strip
    sides = [(JOINT_NAMES.index(f"{s}_{p}"), s.upper()) for s in ("l", "r") for p in ("wrist", "ankle")]
    images = []
    for k, f in enumerate(frames_idx):
        img = Image.new("P", (size, size + 18 + top), 0)
        img.putpalette(palette)
        draw = ImageDraw.Draw(img)
        draw.text((4, 5), "importance: low", fill=3)
        draw.line([(95, 10), (95 + levels, 10)], fill=1)
        for i in range(levels):
            draw.rectangle([95 + i, 6, 95 + i, 15], fill=4 + i)
        draw.text((99 + levels, 5), "high; L/R: infant's side", fill=3)
        pts = xy[:, k].T * scale + offset + np.array([0, top])
        for a, b in BONES:
            draw.line([tuple(pts[a]), tuple(pts[b])], fill=1, width=3)
        for v in np.argsort(imp[f]):  # most important drawn last (on top)
            r = 3 + 6 * imp[f, v]
            x, y = pts[v]
            draw.ellipse([x - r, y - r, x + r, y + r], fill=4 + int(imp[f, v] * (levels - 1)), outline=2)
        for v, letter in sides:
            draw.text((pts[v][0] + 9, pts[v][1] - 12), letter, fill=2)
        draw.text((4, size + top + 3), f"{f / fps:5.1f} s   {ascii_notice}", fill=3)
        images.append(img)
    out = Path(path)
    images[0].save(out, save_all=True, append_images=images[1:], duration=int(1000 * step / fps), loop=0,
                   optimize=False)
    return out


