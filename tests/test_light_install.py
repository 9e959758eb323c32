"""``pip install prunelab`` (no extra) is the pruning core: it imports, prunes and runs its CLI without the
packages of the applications, and each package's third-party imports are covered by the extras it needs.

The light environment is simulated in a subprocess whose ``sys.meta_path`` finders find none of the heavy
packages, so importing one fails (and ``importlib.util.find_spec`` answers ``None``) as if it were not installed.
Pillow is not hidden: torchvision imports it and depends on it, so it is in every install.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
BLOCKED = ("gradio", "gradio_client", "skimage", "sklearn", "matplotlib", "scipy", "mlxtend", "cv2", "mediapipe",
           "onnx", "onnxruntime", "onnxscript")
CORE = {"torch", "torchvision", "torch-pruning", "numpy", "tqdm"}

LIGHT = r"""
import contextlib, io, json, runpy, sys

BLOCKED = set(sys.argv[1].split(","))
RUN_DIR = sys.argv[2]


class Hiding:  # a meta-path finder that finds nothing of the blocked packages: for Python they are not installed
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            return None
        return self.finder.find_spec(name, path, target)


sys.meta_path[:] = [Hiding(finder) for finder in sys.meta_path]
import torch, torchvision
import core_pruning

out = {"after_import": sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)}
model = torchvision.models.resnet18(weights=None).eval()
result = core_pruning.prune(model, torch.randn(1, 3, 64, 64), criterion="l1", target_flops=0.5)
out["flops_ratio"] = result.report["flops_ratio"]
out["output_shape"] = list(result.model(torch.randn(2, 3, 64, 64)).shape)


def cli(*argv, as_module=False):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            if as_module:  # exactly `python -m core_pruning ...`
                sys.argv = ["core_pruning", *argv]
                runpy.run_module("core_pruning", run_name="__main__", alter_sys=True)
                code = 0
            else:
                from core_pruning.cli import main
                code = main(list(argv))
        except SystemExit as exc:
            code = exc.code
    return {"code": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


out["help"] = cli("--help", as_module=True)
import core_pruning.analysis  # importable without scipy/matplotlib; they are needed at the first call
out["analyze"] = cli("analyze", "--model", "resnet20", "--criteria", "l1,l2")
out["train_prune"] = cli("train-prune", "--method", "hfp", "--model", "resnet20", "--data", "mnist5k",
                         "--target-flops", "0.5", "--epochs", "1", "--out", RUN_DIR)
out["loaded"] = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def light(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("light")
    env = dict(os.environ, PYTHONPATH=str(REPO))  # this checkout, whatever the environment's install points at
    proc = subprocess.run([sys.executable, "-c", LIGHT, ",".join(BLOCKED), str(work / "run")], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_core_imports_and_prunes_without_the_heavy_packages(light):
    assert light["after_import"] == []
    assert abs(light["flops_ratio"] - 0.5) <= 0.02
    assert light["output_shape"] == [2, 1000]
    assert light["loaded"] == [], f"imported although blocked: {light['loaded']}"


def test_cli_help_runs_without_the_heavy_packages(light):
    help_ = light["help"]
    assert help_["code"] == 0, help_["stderr"]
    for command in ("prune", "analyze", "train-prune"):
        assert command in help_["stdout"]


@pytest.mark.parametrize(("key", "package", "extra"), [("analyze", "scipy", "analysis"),
                                                       ("train_prune", "scikit-learn", "datasets")])
def test_a_missing_optional_package_is_one_line_naming_the_extra(light, key, package, extra):
    run = light[key]
    assert run["code"] == 2, run
    lines = run["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run["stderr"]
    assert package in lines[0] and f"pip install 'prunelab[{extra}]'" in lines[0]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def test_base_dependencies_are_exactly_the_core():
    from core_pruning._tp_compat import SUPPORTED_RANGE

    deps = PYPROJECT["project"]["dependencies"]
    assert {_name(d) for d in deps} == CORE
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps  # served from local disk; never another build
    assert f"torch-pruning{SUPPORTED_RANGE}" in deps


def _extra_packages(extra: str, seen: frozenset = frozenset()) -> set[str]:
    """Distribution names an extra installs, self-references (``prunelab[a,b]``) followed."""
    names: set[str] = set()
    for requirement in PYPROJECT["project"]["optional-dependencies"][extra]:
        if _name(requirement) == "prunelab":
            for inner in re.search(r"\[(.*)\]", requirement).group(1).split(","):
                if inner.strip() not in seen:
                    names |= _extra_packages(inner.strip(), seen | {extra})
        else:
            names.add(_name(requirement))
    return names


def test_all_is_every_extra_but_dev_and_video():
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    assert {"analysis", "artnet", "cp", "demo", "video", "export", "dev", "all"} <= extras
    inner = set(re.search(r"\[(.*)\]", PYPROJECT["project"]["optional-dependencies"]["all"][0]).group(1).split(","))
    assert inner == extras - {"all", "dev", "video"}  # video holds numpy < 2: an environment of its own
    assert {"gradio", "scikit-image", "scikit-learn", "scipy", "matplotlib", "pillow"} <= _extra_packages("demo")


# Import name -> distribution (only where they differ).
DISTRIBUTION = {"PIL": "pillow", "cv2": "opencv-python-headless", "skimage": "scikit-image", "sklearn": "scikit-learn",
                "torch_pruning": "torch-pruning", "gradio_client": "gradio"}
OURS = {"prunelab", "core_pruning", "artnet", "cp_predict", "demos"}
# Which extras a package may rely on beyond the base dependencies.
NEEDS = {"prunelab": (), "core_pruning": ("analysis", "datasets"), "artnet": ("artnet", "export"),
         "cp_predict": ("cp", "video"), "demos": ("demo",)}


def _third_party_imports(package: str) -> set[str]:
    names: set[str] = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.partition(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in OURS and n != "__future__"}


@pytest.mark.parametrize("package", sorted(NEEDS))
def test_every_third_party_import_is_a_dependency_of_the_extras_it_needs(package):
    allowed = set(CORE) | {"pillow"}  # pillow comes with torchvision
    for extra in NEEDS[package]:
        allowed |= _extra_packages(extra)
    missing = {n for n in _third_party_imports(package) if DISTRIBUTION.get(n, n).lower() not in allowed}
    assert not missing, f"{package} imports {sorted(missing)}, which none of {NEEDS[package]} installs"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize(("target", "extras"), [("demo", "all"), ("test", "dev,all")])
def test_make_installs_the_extras_its_target_needs(tmp_path, target, extras):
    venv = tmp_path / "venv"  # not there: make plans the whole set-up
    plan = subprocess.run(["make", "-n", target, f"VENV={venv}"], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert plan.returncode == 0, plan.stderr
    assert f"pip install --quiet -e '.[{extras}]'" in plan.stdout
    makefile = (REPO / "Makefile").read_text()
    # a stamp older than pyproject.toml makes the next make install again
    assert "$(STAMP_ALL): pyproject.toml" in makefile and "$(STAMP_DEV): pyproject.toml" in makefile
