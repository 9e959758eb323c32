"""Shared pytest fixtures: marker handling, ../shared access, and the browser harness.

Markers (declared in pyproject.toml):
- ``gpu``: skipped when CUDA is unavailable.
- ``shared``: skipped with a reason when the ../shared development data is absent.
- ``browser``: uses the ``app_page`` fixture (headless Debian Chromium via playwright). Skipped when
  /usr/bin/chromium is missing, unless PRUNELAB_REQUIRE_BROWSER=1 (set by ``make test``), where it fails.
- ``slow``: excluded by ``make test``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from prunelab.paths import shared_root

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path(os.environ.get("PRUNELAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]


def pytest_configure(config: pytest.Config) -> None:
    import torch

    # Unit tests use small models, where intra-op threads cost more than they give; on a busy 2-core
    # machine two spinning threads per process made them several times slower.
    torch.set_num_threads(int(os.environ.get("PRUNELAB_TEST_THREADS", "1")))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    no_cuda = pytest.mark.skip(reason="needs CUDA (gpu marker); none on this machine")
    no_shared = pytest.mark.skip(reason="needs ../shared development data (set PRUNELAB_SHARED); not found")
    have_shared = shared_root() is not None
    for item in items:
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(no_cuda)
        if "shared" in item.keywords and not have_shared:
            item.add_marker(no_shared)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    root = shared_root()
    if root is None:
        pytest.skip("needs ../shared development data (set PRUNELAB_SHARED); not found")
    return root


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"demo server exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"demo server did not answer at {url} within {timeout:.0f}s")


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``python -m demos`` on a free loopback port; yield its URL; stop it afterwards."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("demo") / "server.log"
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "demos", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for_http(url, proc, timeout=180)
    except Exception as exc:
        proc.kill()
        pytest.fail(f"{exc}\n--- server log ---\n{log_path.read_text()[-4000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: install Debian's chromium (make browser)"
        if os.environ.get("PRUNELAB_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def app_page(browser, app_url: str, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh page on the running app; a screenshot is saved to test-artifacts/ afterwards."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.wait_for_selector("text=prunelab")
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
