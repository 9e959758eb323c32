"""The foundation: packages import, the launcher answers, shared data resolves, the app renders."""

from __future__ import annotations

import subprocess
import sys

import pytest

from prunelab import paths as shared_data


def test_packages_import_independently():
    for name in ["core_pruning", "artnet", "cp_predict", "demos"]:
        result = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_no_backward_imports():
    """core_pruning imports nothing of ours; artnet/cp_predict never import demos or each other."""
    code = (
        "import sys, core_pruning, prunelab.paths;"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('artnet','cp_predict','demos')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_demo_help():
    result = subprocess.run([sys.executable, "-m", "demos", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "--port" in result.stdout and "--host" in result.stdout and "127.0.0.1" in result.stdout


def test_demo_rejects_bad_port():
    result = subprocess.run([sys.executable, "-m", "demos", "--port", "99999"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "--port" in result.stderr


def test_shared_data_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv(shared_data.ENV_VAR, str(tmp_path))
    assert shared_data.shared_root() == tmp_path
    assert not shared_data.has_shared("weights")
    with pytest.raises(shared_data.SharedDataMissing, match="does not exist"):
        shared_data.shared_path("weights")
    (tmp_path / "weights").mkdir()
    assert shared_data.shared_path("weights") == tmp_path / "weights"


def test_shared_data_missing_is_clear(tmp_path, monkeypatch):
    monkeypatch.setenv(shared_data.ENV_VAR, str(tmp_path / "nope"))
    assert shared_data.shared_root() is None
    with pytest.raises(shared_data.SharedDataMissing, match="PRUNELAB_SHARED"):
        shared_data.shared_path("data")


@pytest.mark.shared
def test_shared_data_present(shared_dir):
    assert (shared_dir / "weights" / "teacher-cd16x").is_dir()


def test_app_builds_every_tab():
    import gradio as gr

    from demos import TABS, build_app

    app = build_app()
    labels = [block.label for block in app.blocks.values() if isinstance(block, gr.Tab)]
    assert labels == [title for title, _ in TABS]


@pytest.mark.browser
def test_every_tab_renders_in_browser(app_page):
    from demos import TABS

    page = app_page
    for title, _ in TABS:
        tab = page.get_by_role("tab", name=title)
        tab.click()
        assert tab.get_attribute("aria-selected") == "true"
        panel = page.locator("[role=tabpanel]:visible")
        assert panel.count() >= 1
        assert panel.first.inner_text().strip(), f"tab {title!r} rendered empty"


def test_cli_output_into_a_closed_pipe_is_not_a_traceback():
    """`python -m cp_predict ... --json | head -c 50` must end quietly (exit 141, as Unix tools), no traceback."""
    import subprocess
    import sys

    code = ("import sys; from prunelab.cli import cli_entry, print_json\n"
            "main = cli_entry(lambda: print_json({'x': list(range(100000))}))\n"
            "sys.exit(main())")
    pipe = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pipe.stdout.read(10)
    pipe.stdout.close()  # the reader goes away, like `head` does
    stderr = pipe.stderr.read().decode()
    pipe.wait(timeout=60)
    assert "Traceback" not in stderr
    assert pipe.returncode == 141
