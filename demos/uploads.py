"""What the demo keeps on disk, and for how long: private copies of uploads, Gradio's cache, our temp folders.

* Gradio stores an upload once per content (``<cache>/<sha>/<name>``) and hands the same path to every session
  that uploads identical bytes, so a handler must never delete it (another session may be reading it). Handlers
  read uploads into memory or copy them into a private folder (:func:`private_folder`) and work on that copy.
* Gradio's cache (uploads, previews, results) goes to a private folder of this process
  (``prunelab-gradio-*`` under the system temp folder, unless ``GRADIO_TEMP_DIR`` is set), and Gradio's own
  ``delete_cache`` removes every file in it :data:`RETENTION_S` seconds after it was last handed out (checked
  every :func:`sweep_every` seconds) and all of them when the server stops; the folder itself goes at exit.
  ``PRUNELAB_DEMO_RETENTION_S`` changes the retention (the page states it).
* Our own folders (``prunelab-cp-*``) live only while a request runs.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MethodType
from typing import Any

RETENTION_ENV_VAR = "PRUNELAB_DEMO_RETENTION_S"
DEFAULT_RETENTION_S = 300


def retention_seconds() -> int:
    """How long Gradio keeps uploads and results after their last use (``PRUNELAB_DEMO_RETENTION_S``, default 300)."""
    try:
        value = int(os.environ.get(RETENTION_ENV_VAR, DEFAULT_RETENTION_S))
    except ValueError:
        value = DEFAULT_RETENTION_S
    return max(1, value)


def sweep_every() -> int:
    """Seconds between two of Gradio's cache sweeps (a fifth of the retention, at least 1)."""
    return max(1, retention_seconds() // 5)


def retention_text() -> str:
    """The sentence the page shows about what is kept."""
    longest = retention_seconds() + sweep_every()
    when = f"{longest // 60} min" if longest >= 120 else f"{longest} s"
    return (f"Uploads and results are deleted from the server at most {when} after their last use "
            "(and when the server stops); nothing is kept beyond that.")


_OWN_CACHE: list[Path] = []


def use_private_cache() -> Path:
    """Point Gradio's cache (``GRADIO_TEMP_DIR``) at a private folder of this process, unless the user set one.

    Must run before the ``gr.Blocks`` is created and launched (Gradio reads the variable then). A folder we
    created is removed when the process exits.
    """
    if os.environ.get("GRADIO_TEMP_DIR"):
        folder = Path(os.environ["GRADIO_TEMP_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    folder = Path(tempfile.mkdtemp(prefix="prunelab-gradio-"))
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    _OWN_CACHE.append(folder)
    return folder


def stop_cleanly_on_sigterm() -> None:
    """Make SIGTERM (``kill``, service managers) stop the server like Ctrl-C does.

    By default SIGTERM ends the process at once: Gradio's shutdown (which deletes its cache files) and our
    ``atexit`` clean-up never run. Only installed from the main thread and over the default handler.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@atexit.register
def _remove_own_cache() -> None:
    for folder in _OWN_CACHE:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def private_folder(prefix: str) -> Iterator[Path]:
    """A fresh folder of this request (``<tmp>/<prefix>*``), removed with everything in it afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_upload_bytes(path: str | Path, limit: int) -> bytes:
    """The bytes of an upload (our private copy, in memory); the upload itself is left to Gradio.

    Raises :class:`~prunelab.errors.InputError` when the file is gone (expired) or larger than ``limit``.
    """
    from prunelab.errors import InputError

    p = Path(path)
    try:
        if p.stat().st_size > limit:
            raise InputError(f"{p.name} is larger than {limit // 2**20} MiB")
        return p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"the upload {p.name} is no longer on the server (uploads are deleted after "
                         f"{retention_seconds()} s); upload it again") from None
    except IsADirectoryError:
        raise InputError(f"{p.name} is a folder, not a file") from None


def copy_upload(path: str | Path, folder: Path, limit: int) -> Path:
    """Copy an upload into ``folder`` (a :func:`private_folder`) under its own name; the copy's path."""
    p = Path(path)
    target = folder / (p.name or "upload")
    if target.exists():  # two uploads with the same name: keep both
        target = folder / f"{len(list(folder.iterdir()))}_{target.name}"
    target.write_bytes(read_upload_bytes(p, limit))
    return target



def _process_single_file(self, f):  # bound to each UploadFile instance (see below)
    from gradio.exceptions import Error
    from gradio.utils import NamedString
    from gradio_client import utils as client_utils

    if self.type != "filepath":
        return type(self)._process_single_file(self, f)
    if self.file_types and not client_utils.is_valid_file(f.path, self.file_types):
        raise Error(f"Invalid file type. Please upload a file that is one of these formats: {self.file_types}")
    return NamedString(f.path)


def UploadFile(*args: Any, **kwargs: Any):  # noqa: N802 - used like a component class
    """A ``gr.File`` whose ``filepath`` pre-processing leaves no file behind.

    Gradio 6's ``gr.File`` opens an empty ``NamedTemporaryFile(delete=False)`` in its cache for every file of
    every request and never removes it (nor does its ``delete_cache``), so 0-byte ``tmp*`` files pile up. This
    one validates the type the same way and hands over the upload's path without that file. (An instance
    attribute, not a subclass: Gradio writes a ``.pyi`` stub beside the module of every component subclass.)
    """
    import gradio as gr

    component = gr.File(*args, **kwargs)
    component._process_single_file = MethodType(_process_single_file, component)
    return component
