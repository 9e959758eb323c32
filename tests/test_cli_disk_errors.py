"""Full, read-only and in-the-way file systems, memory errors, modes of outputs, PyTorch's advice (issue 19).

Every CLI that writes must answer an ``OSError`` (read-only file system, disk full, a file where a folder
should be) and a ``MemoryError`` with one ``error:`` line naming the output and the problem, exit code 2.
The read-only and full disks are real: a read-only bind mount and a 4 KiB tmpfs made with ``unshare -m``
(skipped with a reason where mount namespaces are not allowed); the rest runs in-process.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from prunelab.errors import clean_message, error_message

REPO = Path(__file__).resolve().parents[1]
ADVICE = ("weights_only", "Weights only", "trusted source", "can still be loaded")


def _images(folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    content, style = folder / "content.png", folder / "style.png"
    Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(content)
    Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(style)
    return content, style


def _commands(where: Path, content: Path, style: Path) -> dict[str, tuple[str, list[str], str]]:
    """name -> (cli, argv, the output path the message must name)."""
    return {
        "artnet stylize": ("artnet", ["stylize", "--content", str(content), "--style", str(style), "--out",
                                      str(where / "out.png"), "--size", "64", "--style-size", "64"],
                           str(where / "out.png")),
        "cp simulate": ("cp", ["simulate", "--n", "2", "--frames", "150", "--out", str(where / "sim.npz")],
                        str(where / "sim.npz")),
        "core prune": ("core", ["prune", "--model", "resnet20", "--criterion", "l1", "--channel-ratio", "0.9",
                                "--out", str(where / "pruned")], str(where / "pruned")),
        "core analyze": ("core", ["analyze", "--model", "resnet20", "--criteria", "l1,l2", "--figure",
                                  str(where / "fig.png")], str(where / "fig.png")),
    }


def _main(cli: str):
    if cli == "core":
        from core_pruning.__main__ import main
    elif cli == "artnet":
        from artnet.cli import main
    else:
        from cp_predict.cli import main
    return main


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]
    assert "Traceback" not in lines[0] and "[Errno" not in lines[0] and ".tmp" not in lines[0], lines[0]
    return lines[0]


# -- real read-only and full file systems (mount namespace) -----------------------------------------------------
DRIVER = textwrap.dedent("""
    import contextlib, io, json, os, sys
    sys.path.insert(0, sys.argv[1])
    from tests.test_cli_disk_errors import _commands, _main
    from pathlib import Path
    content, style = Path(sys.argv[2]), Path(sys.argv[3])
    results = []
    for where in sys.argv[4:]:
        for name, (cli, argv, target) in _commands(Path(where), content, style).items():
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = _main(cli)(argv)
            results.append({"where": where, "name": name, "code": code, "err": err.getvalue(), "target": target,
                            "left": sorted(os.listdir(where))})
    print(json.dumps(results))
""")


def _can_unshare() -> bool:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="needs `unshare -m` (mount namespaces) for a real read-only "
                                              "bind mount and a full tmpfs; the in-process tests below still run")
def test_read_only_and_full_disks_give_one_line_in_every_writing_cli(tmp_path):
    content, style = _images(tmp_path)
    read_only, full = tmp_path / "read_only", tmp_path / "full"
    read_only.mkdir()
    full.mkdir()
    (read_only / "precious.txt").write_text("kept")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    script = (f"mount --bind {read_only} {read_only} && mount -o remount,ro,bind {read_only} && "
              f"mount -t tmpfs -o size=4k tmpfs {full} && exec {sys.executable} {driver} {REPO} {content} {style} "
              f"{read_only} {full}")
    env = dict(os.environ, PRUNELAB_TEST_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(results) == 8
    for row in results:
        problem = "Read-only file system" if row["where"] == str(read_only) else "No space left on device"
        assert row["code"] == 2, row
        line = _one_error_line(row["err"])
        assert problem in line and row["target"] in line, (row["name"], line)
        expected_left = ["precious.txt"] if row["where"] == str(read_only) else []
        assert row["left"] == expected_left, (row["name"], row["left"])  # no half-written or temporary file
    assert (read_only / "precious.txt").read_text() == "kept"


# -- in-process: a file in the way, a failing write, memory -------------------------------------------------------
@pytest.fixture()
def images(tmp_path):
    return _images(tmp_path)


def test_a_file_where_a_folder_should_be(tmp_path, images, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for name, (cli, argv, _) in _commands(blocker / "sub", *images).items():
        capsys.readouterr()
        assert _main(cli)(argv) == 2, name
        line = _one_error_line(capsys.readouterr().err)
        assert str(blocker) in line and "is a file, not a folder" in line, (name, line)
    assert blocker.read_text() == "x"


def test_a_failing_write_names_the_output_not_the_temporary_file(tmp_path, images, capsys, monkeypatch):
    """ENOSPC raised where the bytes hit the disk (``os.replace`` of the finished temporary file)."""
    real_replace = os.replace

    def full(src, dst, *args, **kwargs):
        if str(src).endswith(".tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full)
    for name, (cli, argv, target) in _commands(tmp_path / "out", *images).items():
        capsys.readouterr()
        assert _main(cli)(argv) == 2, name
        line = _one_error_line(capsys.readouterr().err)
        assert "No space left on device" in line and target in line, (name, line)
    left = [p.name for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert not [n for n in left if n.endswith(".tmp")], left


@pytest.mark.parametrize("cli,argv,patch", [
    ("artnet", ["stylize", "--content", "{content}", "--style", "{style}", "--out", "{out}/o.png"],
     ("artnet.images", "load_image")),
    ("cp", ["predict", "--input", "{npz}"], ("cp_predict.formats", "read_npz")),
    ("core", ["prune", "--model", "resnet20", "--criterion", "l1", "--channel-ratio", "0.9", "--out", "{out}/p"],
     ("core_pruning.commands.common", "load_model")),
    ("core", ["analyze", "--model", "resnet20"], ("core_pruning.commands.analyze", "analyze")),
])
def test_memory_error_is_one_line_and_exit_2(tmp_path, images, capsys, monkeypatch, cli, argv, patch):
    import importlib

    from cp_predict.formats import save_npz
    from cp_predict.simulate import GeneratorConfig, generate

    npz = save_npz(generate(GeneratorConfig(n=1, seed=0, frames=150)), tmp_path / "one.npz")

    def exhausted(*args, **kwargs):
        raise MemoryError("Unable to allocate 1.96 TiB for an array with shape (100000, 3, 100000, 18)")

    monkeypatch.setattr(importlib.import_module(patch[0]), patch[1], exhausted)
    fields = {"content": images[0], "style": images[1], "out": tmp_path / "out", "npz": npz}
    capsys.readouterr()
    assert _main(cli)([a.format(**fields) for a in argv]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "out of memory" in line and "1.96 TiB" in line


# -- modes follow the umask -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_follow_the_umask(tmp_path, images, capsys, umask, mode):
    old = os.umask(umask)
    try:
        for name, (cli, argv, _) in _commands(tmp_path / f"u{umask:o}", *images).items():
            if name == "core analyze":
                continue  # same writer (atomic) as prune; keeps this test short
            assert _main(cli)(argv) == 0, (name, capsys.readouterr().err[-500:])
    finally:
        os.umask(old)
    written = [p for p in (tmp_path / f"u{umask:o}").rglob("*") if p.is_file()]
    assert len(written) == 6  # out.png, sim.npz, pruned/{model.pt, model.json, plan.json, report.json}
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {p.name: oct(mode) for p in written}


# -- PyTorch's advice to weaken weights_only is never repeated ---------------------------------------------------------
def test_torch_advice_is_removed_and_the_reason_kept():
    advice = ("Weights only load failed. In PyTorch 2.6, we changed the default value of the `weights_only` argument "
              "in `torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` "
              "will likely succeed, but it can result in arbitrary code execution. Do it only if you got the file "
              "from a trusted source.")
    for text in (f"cannot read pruned model /x/m.pt: {advice}", f"/x/m.pt: not a readable model ({advice[:120]})",
                 advice + "\n\nTrying to load unsupported GLOBAL posix.getcwd whose module posix is blocked.\n\n"
                 "Check the documentation of torch.load to learn more about types accepted by default with "
                 "weights_only https://pytorch.org/docs/stable/generated/torch.load.html."):
        cleaned = clean_message(text)
        assert not any(a.lower() in cleaned.lower() for a in ADVICE), cleaned
        assert "/x/m.pt" in cleaned or "posix.getcwd" in cleaned, cleaned
    assert clean_message("a plain message. Two sentences.") == "a plain message. Two sentences."
    ours = "criterion 'taylor' needs data; filter pruning re-scores weights only"
    assert clean_message(ours) == ours  # our own wording is left alone


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


def test_no_cli_repeats_the_weights_only_advice(tmp_path, images, capsys):
    import torch

    evil = tmp_path / "evil.pt"
    torch.save(_Evil(), evil)
    (tmp_path / "evil_dir").mkdir()
    shutil.copy(evil, tmp_path / "evil_dir" / "model.pt")
    cases = [("core", ["prune", "--model", str(evil), "--criterion", "l1", "--channel-ratio", "0.9", "--out",
                       str(tmp_path / "o")]),
             ("core", ["analyze", "--model", str(evil)]),
             ("cp", ["predict", "--model", str(evil), "--input", "x.npz"]),
             ("cp", ["evaluate", "--model", str(tmp_path / "evil_dir"), "--data", "x.npz"]),
             ("artnet", ["stylize", "--content", str(images[0]), "--style", str(images[1]), "--encoder", str(evil),
                         "--out", str(tmp_path / "s.png")]),
             ("artnet", ["stylize", "--content", str(images[0]), "--style", str(images[1]), "--decoder", str(evil),
                         "--out", str(tmp_path / "s.png")])]
    for cli, argv in cases:
        capsys.readouterr()
        assert _main(cli)(argv) == 2, (cli, argv)
        line = _one_error_line(capsys.readouterr().err)
        assert not any(a.lower() in line.lower() for a in ADVICE), line
        assert "evil" in line, line


def test_error_message_of_os_errors():
    assert error_message(PermissionError(13, "Permission denied", "/x/.model.pt.a1b2c3d4.tmp")) == \
        "/x/model.pt: Permission denied"
    assert error_message(OSError(errno.EROFS, "Read-only file system", "/ro/out.png")) == \
        "/ro/out.png: Read-only file system"
    assert error_message(FileNotFoundError("weights file w.pt not found")) == "weights file w.pt not found"
    assert error_message(MemoryError()) == "out of memory (try a smaller input)"
