"""Demo tab: cerebral-palsy risk from infant skeletons with joint channel attention (``cp_predict``).

Pick an example or upload a skeleton file (or a video when the ``video`` extra is installed) and see the
calibrated risk with its uncertainty band, per-joint importance (left/right grouped), the joint x time
map, an animated skeleton coloured by importance and the data-quality report. The model is loaded on
first use and cached, so building the app stays fast. Uploads are read and then deleted; nothing is kept.
Research use only — not a diagnostic device.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import gradio as gr

from cp_predict import RESEARCH_NOTICE

SKELETON_TYPES = [".npz", ".csv", ".json"]


@lru_cache(maxsize=1)
def _gif_dir() -> Path:
    """One private temporary folder for the animations; emptied before each new one is drawn."""
    return Path(tempfile.mkdtemp(prefix="prunelab-cp-"))


@lru_cache(maxsize=1)
def _model():
    from cp_predict.predictor import load_model

    return load_model()


def _video_available() -> bool:
    from cp_predict.video import mediapipe_available

    return mediapipe_available()


def _read_input(example: str | None, files: list[str] | None, video: str | None, index: int) -> Any:
    """The one-infant SkeletonSet the user asked for (uploads win over the example)."""
    from core_pruning.utils import InputError
    from cp_predict.examples import load_example
    from cp_predict.formats import load_skeletons

    if video:
        from cp_predict.video import extract_skeleton

        try:
            return extract_skeleton(video).skeletons
        finally:
            _forget(video)
    if files:
        paths = [Path(f) for f in files]
        try:
            if all(p.suffix.lower() == ".json" for p in paths):  # OpenPose per-frame files: one folder
                folder = Path(tempfile.mkdtemp(prefix="prunelab-openpose-"))
                try:
                    for p in paths:
                        shutil.copyfile(p, folder / p.name)
                    data = load_skeletons(folder)
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
            elif len(paths) == 1:
                data = load_skeletons(paths[0])
            else:
                raise InputError("upload one .npz/.csv file, or the OpenPose .json files of one recording")
        finally:
            for p in paths:
                _forget(p)
        if not 0 <= index < len(data):
            raise InputError(f"the file holds {len(data)} infant(s); choose an index from 0 to {len(data) - 1}")
        return data.subset([index])
    if not example:
        raise InputError("pick an example or upload a skeleton file")
    return load_example(example)


def _forget(path: str | Path) -> None:
    """Delete an uploaded file from Gradio's cache once read (uploads are not kept)."""
    Path(path).unlink(missing_ok=True)


def run(example: str | None, files: list[str] | None, video: str | None, index: float | None):
    """Predict for the chosen infant; returns (summary, bars, heatmap, gif, quality)."""
    from core_pruning.utils import InputError
    from cp_predict.plots import importance_chart, importance_heatmap, skeleton_gif
    from cp_predict.predictor import predict
    from cp_predict.preprocess import prepare

    try:
        data = _read_input(example, files, video, int(index or 0))
        model = _model()
        result = predict(model, data)[0]
    except InputError as exc:
        return f"**Error:** {exc}\n\n_{RESEARCH_NOTICE}_", None, None, None, None
    bars = importance_chart(result.joint_importance, "Joint importance (attention, mean of the CV models)") \
        if result.joint_importance else None
    heat = importance_heatmap(result.joint_time_importance, result.fps) \
        if result.joint_time_importance is not None else None
    for old in _gif_dir().glob("*.gif"):
        old.unlink(missing_ok=True)
    gif = None
    if result.joint_time_importance is not None:
        positions = prepare(data, model.preprocess)[0]
        fd, name = tempfile.mkstemp(suffix=".gif", dir=_gif_dir())
        os.close(fd)
        gif = str(skeleton_gif(positions, result.joint_time_importance, Path(name), fps=result.fps))
    return _summary(result, model), bars, heat, gif, result.quality


def _percent(p: float) -> str:
    """``73%``; never a bare 0 % or 100 %, which a calibrated probability does not mean."""
    if p >= 0.995:
        return ">99%"
    if p <= 0.005:
        return "<1%"
    return f"{100 * p:.0f}%"


def _summary(result: Any, model: Any) -> str:
    lo, hi = result.interval
    lines = [f"## Risk {_percent(result.probability)} (band {_percent(lo)} to {_percent(hi)})",
             f"**{RESEARCH_NOTICE}.**", "",
             f"Infant: `{result.name}` · model: {model.model_name}, trained on synthetic infants only "
             "(see weights/cp_attention.json) · the band is the spread of the cross-validation models."]
    if result.joint_importance:
        top = sorted(result.joint_importance.items(), key=lambda kv: -kv[1])[:4]
        lines.append("Most attended joints: " + ", ".join(f"{k} ({v:.2f})" for k, v in top) + ".")
    warnings = result.quality.get("warnings") or []
    lines.append("Data quality: " + ("; ".join(warnings) if warnings else "no problems found") + ".")
    return "\n\n".join(lines)


def build() -> None:
    """Components of the tab (inside an open ``gr.Tab``); nothing heavy happens here."""
    from cp_predict.examples import example_titles

    titles = example_titles()
    gr.Markdown(
        "### Cerebral-palsy risk from infant movement (joint channel attention)\n"
        f"**{RESEARCH_NOTICE}.** Upload an OpenPose-18 skeleton (.npz, .csv, or the per-frame .json files) "
        "or pick an example. Everything runs locally; uploads are read, then deleted."
    )
    with gr.Row():
        with gr.Column(scale=1):
            example = gr.Dropdown(titles, value=titles[0], label="Example infant", elem_id="cp-example")
            files = gr.File(label="…or upload a skeleton file", file_types=SKELETON_TYPES, file_count="multiple",
                            type="filepath", elem_id="cp-upload")
            index = gr.Number(value=0, precision=0, minimum=0, label="Infant index inside an uploaded .npz")
            if _video_available():
                video = gr.Video(label="…or a video (BlazePose)", sources=["upload"], elem_id="cp-video")
            else:
                video = gr.State(None)
                gr.Markdown("Video input needs the optional extra: `pip install 'prunelab[video]'`.")
            button = gr.Button("Predict risk", variant="primary", elem_id="cp-predict")
        with gr.Column(scale=2):
            summary = gr.Markdown(f"_{RESEARCH_NOTICE}._", elem_id="cp-result")
            with gr.Row():
                bars = gr.Plot(label="Per-joint importance (left / right)", show_label=False)
                heat = gr.Plot(label="Joint × time importance", show_label=False)
            with gr.Row():
                gif = gr.Image(label="Skeleton coloured by importance", type="filepath", elem_id="cp-animation")
                quality = gr.JSON(label="Data quality")
    button.click(run, inputs=[example, files, video, index], outputs=[summary, bars, heat, gif, quality])
