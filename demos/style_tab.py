"""Demo tab: ArtNet style transfer.

Upload a content image (or pick an example), pick a style from the gallery (or upload one), choose the
transform, style strength, size and colour preservation, and get the stylised image and the time it took.

* ``build()`` is fast: no model is loaded until the first "Stylize" click (then cached for the process).
* The gallery works on a fresh machine (textures and pictures that ship inside scikit-image); when the
  development data ``../shared`` exists, its 20 paintings are added.
* Uploads are read into memory (each session's own copy); the upload file itself belongs to Gradio, which may
  hand the same file to other sessions, and is removed by Gradio's cache clean-up (:mod:`demos.uploads`).
  Unreadable, empty, tiny or huge files give a one-line message instead of an error.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import gradio as gr
import numpy as np

CONTENT_EXAMPLES = ("astronaut", "chelsea", "coffee", "rocket")
THUMB_SIDE = 160
SIZE_RANGE = (128, 2048)
MAX_UPLOAD_BYTES = 100 * 2**20


@functools.lru_cache(maxsize=1)
def _model():
    """The shipped ArtNet (pruned encoder + decoder), loaded once on first use.

    On the CPU the demo process opts in to :func:`artnet.runtime.retain_freed_memory` (freed activation memory
    stays mapped for the next stylisation), as the ``python -m artnet`` commands do.
    """
    from artnet import ArtNet
    from artnet.runtime import retain_freed_memory

    net = ArtNet.load()
    if net.device.type == "cpu":
        retain_freed_memory()
    return net


@functools.lru_cache(maxsize=1)
def _style_sources() -> tuple[tuple[str, str, str], ...]:
    """(caption, kind, key) for every gallery style: wheel images always, shared paintings when present."""
    from artnet.data import GALLERY_WHEEL
    from prunelab.paths import has_shared

    sources = [(name.replace("_", " "), "wheel", name) for name in GALLERY_WHEEL]
    if has_shared("data", "style", "style"):
        from artnet.data import shared_style_images

        sources += [(path.stem.replace("_", " "), "file", str(path)) for path in shared_style_images("style")]
    return tuple(sources)


@functools.lru_cache(maxsize=64)
def _style_image(index: int) -> np.ndarray:
    from artnet.data import wheel_image
    from artnet.images import load_image

    _, kind, key = _style_sources()[index]
    return wheel_image(key) if kind == "wheel" else load_image(key)


def _thumbnail(index: int, side: int = THUMB_SIDE) -> np.ndarray:
    """Small preview; JPEG files are decoded at reduced scale (``draft``), so this stays fast."""
    from PIL import Image

    from artnet.data import wheel_image

    _, kind, key = _style_sources()[index]
    if kind == "wheel":
        image = Image.fromarray(wheel_image(key))
    else:
        image = Image.open(key)
        image.draft("RGB", (side * 2, side * 2))
        image = image.convert("RGB")
    image.thumbnail((side, side))
    return np.asarray(image)


def gallery_items(_: object = None) -> list[tuple[np.ndarray, str]]:
    """Thumbnails and captions for the style gallery (computed on first page load, then cached)."""
    return list(_gallery_cache())


@functools.lru_cache(maxsize=1)
def _gallery_cache() -> tuple[tuple[np.ndarray, str], ...]:
    return tuple((_thumbnail(i), caption) for i, (caption, _, _) in enumerate(_style_sources()))


def read_upload(path: str | None) -> tuple[np.ndarray | None, str]:
    """Decode an uploaded file into memory (this session's private copy); (image or None, message).

    The upload file is never deleted here: Gradio gives identical uploads of other sessions the same path.
    """
    if not path:
        return None, ""
    from artnet.images import load_image
    from demos.uploads import read_upload_bytes
    from prunelab.errors import InputError, error_message

    name = Path(path).name
    try:
        return load_image(read_upload_bytes(path, MAX_UPLOAD_BYTES)), ""
    except (InputError, OSError, MemoryError) as exc:
        return None, f"⚠️ {error_message(exc).replace(str(path), name).replace('image data', name)}"


def on_content_upload(path: str | None):
    array, message = read_upload(path)
    return array, array, message or ("Content loaded." if array is not None else "")


def on_example(name: str | None):
    if not name:
        return gr.update(), gr.update(), ""
    from artnet.data import wheel_image

    array = wheel_image(name)
    return array, array, f"Example content: {name}."


def on_style_upload(path: str | None):
    array, message = read_upload(path)
    if array is None:
        return gr.update(), gr.update(), message
    return array, array, "Uploaded style selected."


def on_gallery_select(evt: gr.SelectData):
    array = _style_image(int(evt.index))
    return array, array, f"Style: {_style_sources()[int(evt.index)][0]}."


def stylize(content: np.ndarray | None, style: np.ndarray | None, transform: str, alpha: float, size: float,
            preserve_color: bool) -> tuple[np.ndarray | None, str]:
    """Run ArtNet; returns (result image, one-line report or readable error)."""
    if content is None:
        return None, "⚠️ Upload a content image (or pick an example) first."
    if style is None:
        return None, "⚠️ Pick a style in the gallery (or upload one) first."
    from artnet.images import MIN_SIDE, check_working_size, fit_long_side, resize, to_tensor, to_uint8
    from prunelab.errors import InputError, error_message

    try:
        size = int(size)
        if not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]:
            raise InputError(f"size must be {SIZE_RANGE[0]}..{SIZE_RANGE[1]} pixels")
        start = time.perf_counter()
        net = _model()
        load_seconds = time.perf_counter() - start
        image = to_tensor(content)
        for name, array in (("the content image", content), ("the style image", style)):
            if min(array.shape[:2]) < MIN_SIDE:
                raise InputError(f"{name} is only {array.shape[1]}x{array.shape[0]} pixels; style transfer needs "
                                 f"at least {MIN_SIDE} px on each side")
        image = resize(image, *fit_long_side(image.shape[2], image.shape[3], size))
        check_working_size(image.shape[2], image.shape[3], "the content image")
        style_tensor = to_tensor(style)
        result = net.stylize(image, style_tensor, transform=transform, alpha=float(alpha),
                             preserve_color=bool(preserve_color))
    except (InputError, OSError, MemoryError) as exc:
        return None, f"⚠️ {error_message(exc)}"
    parts = ", ".join(f"{k.replace('_', ' ')} {v:.2f} s" for k, v in result.timings.items())
    loaded = f" (model loaded in {load_seconds:.1f} s)" if load_seconds > 0.5 else ""
    height, width = image.shape[2:]
    return to_uint8(result.image), (f"Stylised {width}×{height} with {transform.upper()} in "
                                    f"{result.seconds:.2f} s on {net.device} — {parts}{loaded}.")


def build() -> None:
    """Create the tab's components inside the already-open ``gr.Tab``."""
    from artnet.transforms import DEFAULT_TRANSFORM, transform_names
    from artnet.weights import default_alpha
    from demos.uploads import UploadFile, retention_text

    gr.Markdown("### ArtNet style transfer\nGoogLeNet encoder (zero-channel pruned) + light decoder; "
                "S2 = sandwich swap (AdaIN → style swap → AdaIN). Uploads are processed in memory. "
                + retention_text())
    content_state = gr.State(None)
    style_state = gr.State(None)
    page = gr.State(0)  # input of the gallery's load function: thumbnails are made on page load, not here
    with gr.Row():
        with gr.Column():
            content_file = UploadFile(label="Content image", file_types=["image"], type="filepath",
                                   elem_id="artnet-content-upload")
            example = gr.Dropdown(choices=list(CONTENT_EXAMPLES), value=None, label="…or an example content",
                                  elem_id="artnet-content-example")
            content_preview = gr.Image(label="Content", interactive=False, height=220, elem_id="artnet-content")
        with gr.Column():
            gallery = gr.Gallery(value=gallery_items, inputs=[page], label="Style gallery (click one)", columns=4,
                                 height=220, allow_preview=False, elem_id="artnet-gallery")
            style_file = UploadFile(label="…or upload a style image", file_types=["image"], type="filepath",
                                 elem_id="artnet-style-upload")
            style_preview = gr.Image(label="Style", interactive=False, height=220, elem_id="artnet-style")
    with gr.Row():
        transform = gr.Radio(list(transform_names()), value=DEFAULT_TRANSFORM, label="Transform",
                             elem_id="artnet-transform")
        alpha = gr.Slider(0.0, 1.0, value=default_alpha(), step=0.05, label="Style strength (alpha)",
                          info="1 = fully stylised; the default is the shipped decoder's calibrated balance")
        size = gr.Slider(*SIZE_RANGE, value=512, step=64, label="Output long side (px)", elem_id="artnet-size")
        preserve = gr.Checkbox(label="Preserve content colours")
    run = gr.Button("Stylize", variant="primary", elem_id="artnet-run")
    status = gr.Markdown(elem_id="artnet-status")
    result = gr.Image(label="Result", interactive=False, elem_id="artnet-result", format="png")

    content_file.upload(on_content_upload, content_file, [content_state, content_preview, status],
                        api_name="content_upload")
    example.change(on_example, example, [content_state, content_preview, status], api_name="content_example")
    style_file.upload(on_style_upload, style_file, [style_state, style_preview, status], api_name="style_upload")
    gallery.select(on_gallery_select, None, [style_state, style_preview, status])
    run.click(stylize, [content_state, style_state, transform, alpha, size, preserve], [result, status],
              api_name="stylize")
