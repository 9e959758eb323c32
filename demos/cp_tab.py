"""Demo tab: cp."""

import gradio as gr


def build() -> None:
    gr.Markdown("cp")
