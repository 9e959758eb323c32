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
    "Channel pruning for CNNs and two applications built on it. Everything runs locally. "
)


def build_app() -> gr.Blocks:
    """Build the Blocks app with one tab per entry of :data:`TABS`.

    Gradio's cache goes to a private folder of this process and Gradio deletes what is in it (uploads,
    previews, results) a stated time after its last use and when the server stops (:mod:`demos.uploads`).
    """
    from demos.uploads import retention_seconds, retention_text, stop_cleanly_on_sigterm, sweep_every, use_private_cache

    use_private_cache()  # before the Blocks exists: Gradio reads GRADIO_TEMP_DIR when it is created/launched
    stop_cleanly_on_sigterm()  # so that a `kill` still runs Gradio's cache deletion and ours
    with gr.Blocks(title=TITLE, analytics_enabled=False,
                   delete_cache=(sweep_every(), retention_seconds())) as app:
        gr.Markdown(INTRO + retention_text())
        with gr.Tabs():
            for title, module_name in TABS:
                with gr.Tab(title):
                    importlib.import_module(module_name).build()
    return app
