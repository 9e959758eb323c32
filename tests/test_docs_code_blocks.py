"""Every fenced code block of README.md and docs/*.md runs as written (docs/notes/ excepted).

- ``python`` blocks are executed in-process, unmodified, in a fresh temporary folder;
- ``bash``/``sh`` blocks run with ``bash -e`` (``console`` blocks: their ``$ `` lines) in such a folder, with this
  interpreter's folder (the repository's ``.venv/bin``) first on ``PATH`` and this checkout first on ``PYTHONPATH``,
  so ``python -m core_pruning ...`` is the code under test;
- ``text`` blocks are output listings and are not run; any other language is an error, so that no block goes
  silently untested.

The line before a fence may say ``<!-- slow -->`` (the block runs under the ``slow`` marker: minutes) or
``<!-- not-run: why -->`` (skipped; only for set-up commands, and the test fails when such a block holds anything
but ``make``/``pip``/``git``/``cd`` lines). The folder holds the sample inputs the pages name (see
:func:`sample_inputs`). Relative links of the pages must point at files that exist.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUN_LANGUAGES = {"python", "bash", "sh", "console"}
LISTING_LANGUAGES = {"text"}
SET_UP_COMMANDS = {"make", "pip", "git", "cd"}
FENCE = re.compile(r"^```(\S*)\s*$")
MARK = re.compile(r"^<!--\s*(slow|not-run)\b\s*(?::\s*(.*?))?\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    mark: str | None  # "slow", "not-run" or None
    reason: str = ""

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        assert end is not None, f"{page.name}:{i + 1}: fence never closed"
        mark = MARK.match(lines[i - 1]) if i > 0 else None
        found.append(Block(page, i + 1, opening.group(1), "\n".join(lines[i + 1:end]) + "\n",
                           mark.group(1) if mark else None, (mark.group(2) or "") if mark else ""))
        i = end + 1
    return found


BLOCKS = [block for page in PAGES for block in blocks_of(page)]
RUNNABLE = [b for b in BLOCKS if b.language in RUN_LANGUAGES and b.mark != "not-run"]


def _param(block: Block):
    marks = [pytest.mark.slow] if block.mark == "slow" else []
    return pytest.param(block, id=block.name, marks=marks)


def test_the_pages_have_the_blocks_this_test_expects():
    names = {page.name for page in PAGES}
    assert {"README.md", "core_pruning.md", "artnet.md", "cp_predict.md", "development.md"} <= names
    readme = [b for b in BLOCKS if b.page.name == "README.md"]
    for package in ("core_pruning", "artnet", "cp_predict"):  # a Python and a CLI quick start each, run by default
        assert any(b.language == "python" and package in b.code and b.mark is None for b in readme), package
        assert any(b.language == "bash" and f"python -m {package}" in b.code and b.mark is None for b in readme)
    assert len((REPO / "README.md").read_text().splitlines()) <= 250


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_every_block_has_a_known_language_and_a_valid_mark(block):
    assert block.language in RUN_LANGUAGES | LISTING_LANGUAGES, \
        f"{block.name}: fence language {block.language!r}; use python/bash for code, text for output listings"
    if block.mark == "not-run":
        assert block.reason, f"{block.name}: say why it is not run: <!-- not-run: why -->"
        for line in block.code.splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                assert command.split()[0] in SET_UP_COMMANDS, \
                    f"{block.name}: only set-up commands may be not-run, found {command!r}"


LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_point_at_files_that_exist(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        assert path.exists(), f"{page.name}: link to {target} ({path} does not exist)"


def test_no_page_names_an_option_that_does_not_exist():
    text = "\n".join(page.read_text() for page in PAGES)
    assert "fold_constants" not in text  # the option is fold_constant
    assert "core_pruning.utils" not in text and "core_pruning.shared_data" not in text  # moved to prunelab.*


# --- the sample inputs the pages name -------------------------------------------------------------------------


def _wheel(name: str, side: int) -> np.ndarray:
    from PIL import Image

    from artnet.data import wheel_image

    image = Image.fromarray(wheel_image(name))
    image.thumbnail((side, side))
    return np.asarray(image)


def sample_inputs(folder: Path) -> None:
    """Write the inputs the pages' blocks name into ``folder``.

    ``photo.jpg`` (scikit-image's astronaut), ``painting.jpg`` (coffee), ``texture.jpg`` (brick), ``mask.png``
    (left half white), ``photos/`` and ``images/`` (a few wheel images), ``clip.mp4`` (8 frames panning over the
    astronaut), ``infants.npz`` (4 generated infants) and ``weights`` (a link to this checkout's).
    """
    import cv2
    from PIL import Image

    from cp_predict.formats import save_npz
    from cp_predict.simulate import GeneratorConfig, generate

    Image.fromarray(_wheel("astronaut", 256)).save(folder / "photo.jpg")
    Image.fromarray(_wheel("coffee", 256)).save(folder / "painting.jpg")
    Image.fromarray(_wheel("brick", 256)).save(folder / "texture.jpg")
    mask = np.zeros((256, 256), np.uint8)
    mask[:, :128] = 255
    Image.fromarray(mask).save(folder / "mask.png")
    for sub, names, side in (("photos", ("chelsea", "rocket"), 96), ("images", ("astronaut", "coffee", "chelsea",
                                                                              "rocket"), 64)):
        (folder / sub).mkdir()
        for name in names:
            Image.fromarray(_wheel(name, side)).save(folder / sub / f"{name}.png")
    frames = _wheel("astronaut", 160)
    writer = cv2.VideoWriter(str(folder / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 8, (96, 64))
    for k in range(8):
        writer.write(np.ascontiguousarray(frames[20 + 2 * k:84 + 2 * k, 20 + 3 * k:116 + 3 * k, ::-1]))
    writer.release()
    save_npz(generate(GeneratorConfig(n=4, seed=0)), folder / "infants.npz")
    (folder / "weights").symlink_to(REPO / "weights")


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    sample_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _shell(block: Block) -> str:
    if block.language != "console":
        return block.code
    return "\n".join(line[2:] for line in block.code.splitlines() if line.startswith("$ ")) + "\n"


@pytest.mark.parametrize("block", [_param(b) for b in RUNNABLE])
def test_block_runs(block: Block, workdir: Path):
    if block.language == "python":
        namespace: dict = {"__name__": "__docs__"}
        exec(compile(block.code, block.name, "exec"), namespace)  # noqa: S102 - the pages' own code
        result = namespace.get("result")
        report = getattr(result, "report", None)
        if isinstance(report, dict) and "flops_ratio" in report and "target_flops=0.5" in block.code:
            assert abs(report["flops_ratio"] - 0.5) <= 0.02
        return
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               PRUNELAB_TEST_THREADS=os.environ.get("PRUNELAB_TEST_THREADS", "1"), MPLBACKEND="Agg",
               GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", _shell(block)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, (f"{block.name} failed (exit {proc.returncode}):\n{block.code}\n"
                                  f"--- stderr ---\n{proc.stderr[-4000:]}\n--- stdout ---\n{proc.stdout[-2000:]}")


def test_the_shell_helper_reads_console_prompts():
    block = Block(REPO / "README.md", 1, "console", "$ echo hi\nhi\n", None)
    assert shlex.split(_shell(block)) == ["echo", "hi"]
