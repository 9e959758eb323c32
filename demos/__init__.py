"""Gradio demos: one app with a tab per prunelab application.

``python -m demos`` serves it on 127.0.0.1; :func:`demos.app.build_app` builds the ``gr.Blocks``.
Each tab lives in its own module here and calls only the public API of its package.
"""

from demos.app import TABS, build_app

__all__ = ["TABS", "build_app"]
