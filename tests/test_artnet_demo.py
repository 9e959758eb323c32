"""The ArtNet demo tab: lazy build, readable upload errors, uploads read (not deleted: Gradio owns them), and a
stylisation in the browser."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from demos import style_tab


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_build_loads_no_model_and_no_gallery_images():
    import gradio as gr

    style_tab._model.cache_clear()
    style_tab._gallery_cache.cache_clear()
    with gr.Blocks():
        with gr.Tab("style"):
            style_tab.build()
    assert style_tab._model.cache_info().currsize == 0
    assert style_tab._gallery_cache.cache_info().currsize == 0


def test_transform_choices_come_from_the_registry(monkeypatch):
    import gradio as gr

    from artnet.transforms import DEFAULT_TRANSFORM, TRANSFORMS

    monkeypatch.setitem(TRANSFORMS, "identity", TRANSFORMS["adain"])  # registered once, offered everywhere
    with gr.Blocks() as blocks:
        with gr.Tab("style"):
            style_tab.build()
    radio = next(c for c in blocks.blocks.values() if getattr(c, "elem_id", None) == "artnet-transform")
    assert [value for _, value in radio.choices] == list(TRANSFORMS) and radio.value == DEFAULT_TRANSFORM


def test_gallery_works_without_shared_data(monkeypatch, tmp_path):
    monkeypatch.setenv("PRUNELAB_SHARED", str(tmp_path / "absent"))
    style_tab._style_sources.cache_clear()
    style_tab._gallery_cache.cache_clear()
    try:
        items = style_tab.gallery_items()
        assert len(items) == 8 and all(image.shape[2] == 3 and max(image.shape[:2]) <= 160 for image, _ in items)
        assert "brick" in [caption for _, caption in items]
    finally:
        style_tab._style_sources.cache_clear()
        style_tab._gallery_cache.cache_clear()


@pytest.mark.shared
def test_gallery_adds_the_shared_paintings(shared_dir):
    style_tab._style_sources.cache_clear()
    assert len(style_tab._style_sources()) == 8 + 20


@pytest.mark.parametrize("payload,expected", [(b"garbage", "not a readable image"), (_png(40000, 40000), "too large"),
                                              (_png(0, 5), "")])
def test_bad_uploads_give_a_readable_message_and_are_left_to_gradio(tmp_path, payload, expected):
    path = tmp_path / "upload.png"
    path.write_bytes(payload)
    array, message = style_tab.read_upload(str(path))
    assert array is None and message.startswith("⚠️") and expected in message
    assert str(tmp_path) not in message  # no server paths in the UI
    assert path.read_bytes() == payload  # Gradio's file (other sessions may share it): never deleted by us


def test_good_upload_is_read_into_memory_and_left_to_gradio(tmp_path):
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (30, 20), (200, 10, 10)).save(path)
    array, message = style_tab.read_upload(str(path))
    assert array.shape == (20, 30, 3) and message == ""
    assert path.exists()  # Gradio's file: cleaned by Gradio's cache sweep, not by the handler


def test_stylize_handler(monkeypatch, tmp_path):
    from artnet.decoder import Decoder
    from artnet.encoder import GoogLeNetEncoder
    from artnet.weights import DECODER_FILE, ENCODER_FILE, save_decoder, save_encoder

    torch.manual_seed(0)
    save_encoder(GoogLeNetEncoder().eval(), tmp_path / ENCODER_FILE)
    save_decoder(Decoder(480), tmp_path / DECODER_FILE)
    monkeypatch.setenv("PRUNELAB_WEIGHTS", str(tmp_path))
    style_tab._model.cache_clear()
    try:
        content = np.asarray(Image.new("RGB", (90, 60), (30, 120, 200)))
        style = np.asarray(Image.new("RGB", (50, 50), (250, 200, 0)))
        image, message = style_tab.stylize(None, style, "s2", 1.0, 256, False)
        assert image is None and "content" in message
        image, message = style_tab.stylize(content, None, "s2", 1.0, 256, False)
        assert image is None and "style" in message
        image, message = style_tab.stylize(content, style, "adain", 0.5, 128, True)
        assert image.shape == (85, 128, 3) and message.startswith("Stylised 128×85 with ADAIN")
        image, message = style_tab.stylize(content, style, "adain", 0.5, 99999, True)
        assert image is None and "size" in message
    finally:
        style_tab._model.cache_clear()


def test_missing_weights_give_a_message(monkeypatch, tmp_path):
    monkeypatch.setenv("PRUNELAB_WEIGHTS", str(tmp_path))
    style_tab._model.cache_clear()
    try:
        image, message = style_tab.stylize(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8), "s2", 1.0,
                                           128, False)
        assert image is None and "not found" in message
    finally:
        style_tab._model.cache_clear()
@pytest.mark.browser
def test_stylize_an_uploaded_image_in_the_browser(app_page, tmp_path):
    page = app_page
    page.get_by_role("tab", name="Style transfer (ArtNet)").click()
    content = tmp_path / "content.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).resize((256, 192)).save(content)
    page.locator("#artnet-content-upload input[type=file]").set_input_files(str(content))
    page.wait_for_selector("#artnet-status :text('Content loaded')")
    page.locator("#artnet-gallery button.thumbnail-item").first.click()
    page.wait_for_selector("#artnet-status :text('Style:')")
    page.locator("#artnet-run").click()
    page.wait_for_selector("#artnet-status :text('Stylised')", timeout=180_000)
    status = page.locator("#artnet-status").inner_text()
    assert "Stylised 512×384 with S2" in status and " s " in status
    result = page.locator("#artnet-result img")
    assert result.count() == 1
    size = result.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size == [512, 384]
    data = io.BytesIO(page.request.get(result.get_attribute("src")).body())
    array = np.asarray(Image.open(data).convert("RGB"))
    assert array.std() > 5  # a real picture, not a blank frame
