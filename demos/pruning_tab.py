"""Demo tab: pruning."""

import gradio as gr


def build() -> None:
    gr.Markdown("pruning")
