"""The base layer: imports run one way, errors name parameters (CLIs show flags), one command-line pattern."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from prunelab.cli import build_parser, command_line
from prunelab.errors import InputError, error_message

ROOT = Path(__file__).resolve().parents[1]

#: Which of our packages each package may import. Nothing may import a package on its own level or above.
ALLOWED = {
    "prunelab": set(),
    "core_pruning": {"prunelab"},
    "artnet": {"prunelab", "core_pruning"},
    "cp_predict": {"prunelab", "core_pruning"},
    "demos": {"prunelab", "core_pruning", "artnet", "cp_predict"},
    "benchmarks": {"prunelab", "core_pruning", "artnet", "cp_predict"},
}


def _our_imports(path: Path) -> set[str]:
    """Top-level names of our packages imported anywhere in ``path`` (module level or inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_run_one_way(package):
    """prunelab <- core_pruning <- {artnet, cp_predict} <- demos/benchmarks, also for imports inside functions."""
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _our_imports(path) - ALLOWED[package] - {package}
        wrong += [f"{path.relative_to(ROOT)} imports {name}" for name in sorted(bad)]
    assert not wrong, "\n".join(wrong)


def test_base_imports_no_heavy_or_pruning_package():
    code = ("import sys, prunelab, prunelab.cli, prunelab.io, prunelab.npz, prunelab.device, prunelab.runs, "
            "prunelab.paths, prunelab.seed, prunelab.machine, prunelab.training;"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch_pruning', 'gradio', 'core_pruning', 'artnet', 'cp_predict', 'demos'));"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_error_names_the_parameter_in_python_and_the_flag_on_the_command_line():
    exc = InputError("{option} must be 1..10, got 0", option="at_risk_fraction")
    assert str(exc) == "at_risk_fraction must be 1..10, got 0"
    assert error_message(exc) == "at_risk_fraction must be 1..10, got 0"
    assert error_message(exc, for_cli=True) == "--at-risk-fraction must be 1..10, got 0"
    assert str(InputError("no placeholder")) == "no placeholder"


def test_output_check_names_force_as_parameter_or_flag(tmp_path):
    from prunelab.io import check_output_path

    target = tmp_path / "out.txt"
    target.write_text("keep me")
    with pytest.raises(InputError) as info:
        check_output_path(target)
    assert "use force to overwrite" in str(info.value)
    assert "use --force to overwrite" in error_message(info.value, for_cli=True)
    assert target.read_text() == "keep me"


def test_command_line_dispatches_and_reports_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "hello_command.py").write_text(
        "from prunelab.errors import InputError\n"
        "def add_parser(sub, name):\n"
        "    p = sub.add_parser(name, help='say hello')\n"
        "    p.add_argument('--times', type=int, default=1)\n"
        "    p.set_defaults(run=run)\n"
        "def run(args):\n"
        "    if args.times < 1:\n"
        "        raise InputError('{option} must be >= 1', option='times')\n"
        "    print('hello ' * args.times)\n"
        "    return 0\n")
    main = command_line("prog", "test program", {"hello": "hello_command"})
    assert main(["hello", "--times", "2"]) == 0
    assert capsys.readouterr().out.strip() == "hello hello"
    assert main(["hello", "--times", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --times must be >= 1"
    with pytest.raises(SystemExit) as info:
        build_parser("prog", "test program", {"hello": "hello_command"}).parse_args(["hello", "--bogus"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: unrecognized arguments: --bogus")


@pytest.mark.parametrize("package", ["core_pruning", "artnet", "cp_predict"])
def test_every_package_uses_the_one_command_pattern(package):
    """``<pkg>/cli.py`` is a command table for :func:`command_line`; every command module has add_parser and run."""
    import importlib

    cli = importlib.import_module(f"{package}.cli")
    assert isinstance(cli.COMMANDS, dict) and cli.COMMANDS
    for module_name in cli.COMMANDS.values():
        module = importlib.import_module(module_name)
        assert module_name.startswith(f"{package}.commands."), module_name
        assert callable(module.add_parser) and callable(module.run), module_name


@pytest.mark.parametrize("content, message", [("{not json", "is not a readable run configuration"),
                                              ("[1, 2]", r"is not a run configuration \(a JSON list\)")])
def test_run_folder_with_a_broken_config_is_refused_and_kept(tmp_path, content, message):
    from prunelab.runs import RunDir

    (tmp_path / "checkpoint.pt").write_bytes(b"x")
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(InputError, match=message) as info:
        RunDir(tmp_path, {"lr": 0.1})
    assert "--run folder" in error_message(info.value, for_cli=True)
    assert (tmp_path / "config.json").read_text() == content


def test_a_diverged_training_run_is_one_line_on_the_command_line(capsys):
    import torch

    from prunelab.cli import cli_entry
    from prunelab.training import StepLoop

    weight = torch.nn.Parameter(torch.ones(1))
    loop = StepLoop(torch.optim.SGD([weight], lr=0.1))
    main = cli_entry(lambda: loop.optimise(weight.sum() * float("nan")))
    assert main() == 2
    err = capsys.readouterr().err
    assert err.startswith("error: loss is nan at step 0: lower the learning rate") and err.count("\n") == 1
    assert torch.equal(weight.detach(), torch.ones(1))  # the weights were not touched
