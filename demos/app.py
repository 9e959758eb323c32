"""Assemble the prunelab Gradio app from one module per application tab."""

from __future__ import annotations

import importlib
import os

# Gradio reads these at import time: no usage analytics, no hub calls.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

# (tab title, module providing ``build() -> None`` that adds components inside the open tab)
TABS: list[tuple[str, str]] = [
    ("Style transfer (ArtNet)", "demos.style_tab"),
    ("CP risk (joint attention)", "demos.cp_tab"),
    ("Pruning lab", "demos.pruning_tab"),
]

TITLE = "prunelab"
INTRO = (
    "# prunelab\n"
    "Channel pruning for CNNs and two applications built on it. Everything runs locally; "
    "uploads are processed in memory and not kept."
)


def build_app() -> gr.Blocks:
    """Build the Blocks app with one tab per entry of :data:`TABS`."""
    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.Markdown(INTRO)
        with gr.Tabs():
            for title, module_name in TABS:
                with gr.Tab(title):
                    importlib.import_module(module_name).build()
    return app
