"""Demo tab: cerebral-palsy risk from infant skeletons with joint channel attention (``cp_predict``).

Pick an example or upload a skeleton file (or a video when the ``video`` extra is installed) and see the
calibrated risk with its 90% conformal interval and the quality gate's verdict, per-joint importance
(left/right grouped, beside the cohort average), the side asymmetry of importance and movement, the joint x
time map, an animated skeleton (colour legend, L/R labels) coloured by importance and the data-quality report.
The model is loaded on first use and cached, so building the app stays fast. Uploads are read into the
session's own copy when they arrive, and each request works in a private folder removed when it is done (the
upload files belong to Gradio, which may hand the same file to other sessions, so they are never deleted
here; see :mod:`demos.uploads`). Research use only — not a diagnostic device.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import gradio as gr

from cp_predict import RESEARCH_NOTICE

SKELETON_TYPES = [".npz", ".csv", ".json"]
MAX_UPLOAD_BYTES = 64 * 2**20  # one session's uploads, kept in memory until the next upload
GIF_PREFIX = "prunelab-cp-"  # one folder per request (see run); removed once Gradio has its copy
_GIF_FOLDERS: set[str] = set()  # made by run() and not yet removed (direct callers): removed at exit


@atexit.register
def _remove_gif_folders() -> None:
    for folder in list(_GIF_FOLDERS):
        shutil.rmtree(folder, ignore_errors=True)


@lru_cache(maxsize=1)
def _model():
    from cp_predict.predictor import load_model

    return load_model()


def _video_available() -> bool:
    from cp_predict.video import mediapipe_available

    return mediapipe_available()


def _read_input(example: str | None, files: list[str] | None, video: str | None, index: int) -> Any:
    """The one-infant SkeletonSet the user asked for (uploads win over the example)."""
    from cp_predict.examples import load_example
    from cp_predict.formats import load_skeletons
    from demos.uploads import copy_upload, private_folder
    from prunelab.errors import InputError

    if video:
        from cp_predict.video import extract_skeleton

        with private_folder("prunelab-cp-upload-") as folder:  # this request's own copy; Gradio's stays
            return extract_skeleton(copy_upload(video, folder, MAX_UPLOAD_BYTES)).skeletons
    if isinstance(files, dict):  # the session's copy, read when the files were uploaded (read_uploads)
        if files.get("error"):
            raise InputError(files["error"])
        files = files.get("files")
    if files:
        with private_folder("prunelab-cp-upload-") as folder:  # this request's own copies; Gradio's stay
            paths = [_private_copy(f, folder) for f in files]
            if all(p.suffix.lower() == ".json" for p in paths):  # OpenPose per-frame files: one folder
                data = load_skeletons(folder)
            elif len(paths) == 1:
                data = load_skeletons(paths[0])
            else:
                raise InputError("upload one .npz/.csv file, or the OpenPose .json files of one recording")
        if not 0 <= index < len(data):
            raise InputError(f"the file holds {len(data)} infant(s); choose an index from 0 to {len(data) - 1}")
        return data.subset([index])
    if not example:
        raise InputError("pick an example or upload a skeleton file")
    return load_example(example)


def _private_copy(item: str | tuple[str, bytes], folder: Path) -> Path:
    """An upload (a path, or ``(name, bytes)`` read earlier) written into this request's ``folder``."""
    from demos.uploads import copy_upload

    if isinstance(item, str | Path):
        return copy_upload(item, folder, MAX_UPLOAD_BYTES)
    name, payload = item
    target = folder / Path(name).name
    if target.exists():
        target = folder / f"{len(list(folder.iterdir()))}_{target.name}"
    target.write_bytes(payload)
    return target


def read_uploads(files: list[str] | None) -> dict[str, Any] | None:
    """Upload handler: this session's private copy of the uploaded files, in memory (``{"files": [(name,
    bytes)]}``, or ``{"error": message}``), so a later "Predict" needs neither Gradio's file nor its cache."""
    from demos.uploads import read_upload_bytes
    from prunelab.errors import InputError, error_message

    if not files:
        return None
    try:
        total, copies = 0, []
        for f in files:
            payload = read_upload_bytes(f, MAX_UPLOAD_BYTES - total)
            total += len(payload)
            copies.append((Path(f).name, payload))
        return {"files": copies}
    except (InputError, OSError, MemoryError) as exc:
        return {"error": error_message(exc)}


def run(example: str | None, files: list[str] | dict[str, Any] | None, video: str | None, index: float | None):
    """Predict for the chosen infant; returns (summary, bars, heatmap, gif, quality)."""
    from cp_predict.plots import importance_chart, importance_heatmap, skeleton_gif
    from cp_predict.predictor import predict
    from cp_predict.preprocess import prepare
    from prunelab.errors import InputError, error_message

    try:
        data = _read_input(example, files, video, int(index or 0))
        model = _model()
        result = predict(model, data)[0]
    except (InputError, OSError, MemoryError) as exc:
        return f"**Error:** {error_message(exc)}\n\n_{RESEARCH_NOTICE}_", None, None, None, None
    bars = importance_chart(result.joint_importance, "This infant's joint importance (attention); | = cohort",
                            cohort=result.extra.get("joint_importance_cohort")) if result.joint_importance else None
    heat = importance_heatmap(result.joint_time_importance, result.fps) \
        if result.joint_time_importance is not None else None
    gif, summary = None, _summary(result, model)
    if result.joint_time_importance is not None:  # in a folder of this request's own (see _run_event)
        positions = prepare(data, model.preprocess)[0]
        folder = None
        try:
            folder = tempfile.mkdtemp(prefix=GIF_PREFIX)
            _GIF_FOLDERS.add(folder)
            fd, name = tempfile.mkstemp(suffix=".gif", dir=folder)
            os.close(fd)
            gif = str(skeleton_gif(positions, result.joint_time_importance, Path(name), fps=result.fps))
        except OSError as exc:  # full or read-only temp folder: the prediction stands, the animation is left out
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
            gif, summary = None, f"{summary}\n\n_No animation: {error_message(exc)}._"
    return summary, bars, heat, gif, result.quality


def _percent(p: float) -> str:
    """``73%``; never a bare 0 % or 100 %, which a calibrated probability does not mean."""
    if p >= 0.995:
        return ">99%"
    if p <= 0.005:
        return "<1%"
    return f"{100 * p:.0f}%"


def _summary(result: Any, model: Any) -> str:
    gate = result.assessment
    if not result.assessable:
        head = [f"## Not assessable: {'; '.join(gate['reasons'])}", f"**{RESEARCH_NOTICE}.**", "",
                f"Infant: `{result.name}` · quality gate: **{gate['verdict']}** - no risk is given for this "
                "recording."]
    else:
        lo, hi = result.interval
        labels = result.extra.get("prediction_set") or []
        head = [f"## Risk {_percent(result.probability)} (90% interval {_percent(lo)} to {_percent(hi)})",
                f"**{RESEARCH_NOTICE}.**", "",
                f"Infant: `{result.name}` · model: {model.model_name}, trained on synthetic infants only "
                "(see weights/cp_attention.json) · quality gate: **assessable** · the interval is split-conformal: "
                "it holds the true label for at least 90% of infants like the training infants "
                f"(it holds: {' and '.join(labels) if labels else 'neither label'})."]
    lines = head
    if result.joint_importance:
        top = sorted(result.joint_importance.items(), key=lambda kv: -kv[1])[:4]
        lines.append("Most attended joints: " + ", ".join(f"{k} ({v:.2f})" for k, v in top) + ".")
        cohort = result.extra.get("joint_importance_cohort") or {}
        if cohort:
            diff = sorted(result.joint_importance, key=lambda j: -(result.joint_importance[j] - cohort.get(j, 0)))[:3]
            lines.append("Above the cohort average for this infant: " + ", ".join(
                f"{j} ({result.joint_importance[j]:.2f} vs {cohort.get(j, 0):.2f})" for j in diff) + ".")
        occlusion = result.extra.get("joint_occlusion") or {}
        if occlusion and any(occlusion.values()):
            best = sorted(occlusion.items(), key=lambda kv: -kv[1])[:3]
            agree = result.extra.get("explanation_agreement", {})
            rho = agree.get("spearman_attention_occlusion")
            lines.append("Where freezing one joint changed this infant's score most (occlusion): "
                         + ", ".join(f"{k} ({v:.2f})" for k, v in best)
                         + (f"; rank agreement with the attention {rho:+.2f}" if rho is not None else "")
                         + ". Attention is what the model weighs, occlusion what freezing each joint does: they "
                         "measure different things, and occlusion is the weaker guide (a still joint itself looks "
                         "abnormal).")
    asym = result.extra.get("asymmetry") or {}
    if asym:
        parts = [f"movement {asym['movement']:+.2f} ({asym['movement_side']})",
                 f"fidgety-band power {asym['fidgety_power']:+.2f}"]
        if "importance" in asym:
            parts.insert(0, f"importance {asym['importance']:+.2f} ({asym['importance_side']})")
        lines.append("Side asymmetry, (right - left) / (right + left): " + ", ".join(parts) + ".")
    problems = quality_problems(result.quality)
    lines.append("Data quality: " + ("; ".join(problems) if problems else "no problems found") + ".")
    return "\n\n".join(lines)


def quality_problems(quality: dict[str, Any]) -> list[str]:
    """The problems the quality JSON lists, as the summary states them: its warnings, plus the unreliable and
    never-detected joints they do not already name (the warnings mention limb joints only)."""
    problems = list(quality.get("warnings") or [])
    said = " ".join(problems)
    unreliable = [name for name in quality.get("unreliable_joints") or {} if name not in said]
    if unreliable:
        from cp_predict.quality import UNRELIABLE_FRACTION

        problems.append(f"unreliable joints (low confidence in more than {100 * UNRELIABLE_FRACTION:.0f}% of frames): "
                        + ", ".join(f"{n} ({100 * float(quality['unreliable_joints'][n]):.0f}%)" for n in unreliable))
    never = [name for name in quality.get("never_detected") or [] if name not in said]
    if never:
        problems.append(f"never detected: {', '.join(never)}")
    return problems


def _run_event(gif_block: Any):
    """``run`` for the page: the GIF is handed to Gradio's cache at once and this request's folder removed."""

    def predict_risk(example: str | None, files: dict[str, Any] | None, video: str | None, index: float | None):
        summary, bars, heat, gif, quality = run(example, files, video, index)
        if gif is not None:
            ours = Path(gif)
            try:
                gif = gif_block.move_resource_to_block_cache(str(ours))  # Gradio's copy, cleaned with its cache
            finally:
                shutil.rmtree(ours.parent, ignore_errors=True)
                _GIF_FOLDERS.discard(str(ours.parent))
        return summary, bars, heat, gif, quality

    return predict_risk


def build() -> None:
    """Components of the tab (inside an open ``gr.Tab``); nothing heavy happens here."""
    from cp_predict.examples import example_titles
    from demos.uploads import UploadFile, retention_text

    titles = example_titles()
    gr.Markdown(
        "### Cerebral-palsy risk from infant movement (joint channel attention)\n"
        f"**{RESEARCH_NOTICE}.** Upload an OpenPose-18 skeleton (.npz, .csv, or the per-frame .json files) "
        "or pick an example. Everything runs locally. " + retention_text()
    )
    with gr.Row():
        with gr.Column(scale=1):
            example = gr.Dropdown(titles, value=titles[0], label="Example infant", elem_id="cp-example")
            files = UploadFile(label="…or upload a skeleton file", file_types=SKELETON_TYPES, file_count="multiple",
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
    uploaded = gr.State(None)  # this session's copy of the uploaded files (read_uploads)
    files.change(read_uploads, files, uploaded, api_name="skeleton_upload")
    button.click(_run_event(gif), inputs=[example, uploaded, video, index],
                 outputs=[summary, bars, heat, gif, quality], api_name="predict_risk")
