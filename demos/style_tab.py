"""Demo tab: style."""

import gradio as gr


def build() -> None:
    gr.Markdown("style")
