"""Concurrent users on the real demo server, and what stays on disk afterwards (issues 17 and 19).

The app is started locally (``python -m demos`` on a free 127.0.0.1 port, its own ``GRADIO_TEMP_DIR`` and
``TMPDIR``, retention 3 s) and driven with ``gradio_client``: 8 users at once, 3 rounds each, on the style and
CP tabs. Every user uploads the *same* style image / skeleton file, so Gradio hands all sessions one
content-hashed path: the case where deleting an upload after reading it broke other sessions. Each answer is
compared with the same handler run in this process. Afterwards no file of Gradio's cache and none of our
``prunelab-*`` folders is left. Bounded: 8 x 3 requests per tab, loopback only, every wait has a timeout.
The style burst is in the default run (~50 s with the server's start); the CP burst is marked ``slow`` (~100 s).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
USERS, ROUNDS = 8, 3
RETENTION_S = 3
REQUEST_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if not p.is_dir()) if folder.exists() else []


def _ours(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("prunelab-")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("burst")
    cache, tmp = root / "gradio-cache", root / "tmp"
    tmp.mkdir()
    port = _free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
               GRADIO_TEMP_DIR=str(cache), TMPDIR=str(tmp), PRUNELAB_DEMO_RETENTION_S=str(RETENTION_S))
    log_path = root / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "demos", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"demo server did not start\n{log_path.read_text()[-3000:]}")
        time.sleep(0.5)
    yield {"url": url, "cache": cache, "tmp": tmp, "log": log_path, "inputs": root / "inputs"}
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    # Gradio deletes every file of its cache when the server stops; the folder itself was the test's
    assert _files_under(cache) == [], "files left in Gradio's cache after the server stopped"


def _client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, analytics_enabled=False)


def _fetch_png(url: str, file_data: dict) -> np.ndarray:
    assert file_data.get("url", "").startswith(url.rstrip("/")), file_data  # served from the loopback server
    with urllib.request.urlopen(file_data["url"], timeout=30) as response:
        import io

        return np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))


def _burst(work, users: int = USERS) -> list:
    with ThreadPoolExecutor(max_workers=users) as pool:
        futures = [pool.submit(work, user) for user in range(users)]
        return [f.result(timeout=REQUEST_TIMEOUT_S * ROUNDS * 2) for f in futures]


def _wait_until_clean(server: dict) -> list[Path]:
    deadline = time.monotonic() + RETENTION_S + 15
    while time.monotonic() < deadline:
        left = _files_under(server["cache"])
        if not left:
            return []
        time.sleep(0.5)
    return _files_under(server["cache"])


def test_style_tab_burst_every_request_right_and_nothing_kept(server, tmp_path):
    from demos import style_tab

    inputs = tmp_path
    style = np.zeros((96, 96, 3), np.uint8)
    style[::8] = (220, 40, 30)
    style[:, ::12] = (20, 60, 200)
    Image.fromarray(style).save(inputs / "style.png")  # one file, uploaded by every user: one Gradio path
    contents = []
    rng = np.random.default_rng(0)
    for user in range(USERS):
        array = (rng.random((64 + 8 * user, 128, 3)) * 255).astype(np.uint8)
        Image.fromarray(array).save(inputs / f"content_{user}.png")
        contents.append(array)
    tmp_before = _ours(server["tmp"])

    def user_session(user: int) -> list[tuple[str, np.ndarray]]:
        from gradio_client import handle_file

        client = _client(server["url"])
        answers = []
        for _ in range(ROUNDS):
            client.submit(handle_file(str(inputs / f"content_{user}.png")),
                          api_name="/content_upload").result(timeout=REQUEST_TIMEOUT_S)
            client.submit(handle_file(str(inputs / "style.png")), api_name="/style_upload").result(
                timeout=REQUEST_TIMEOUT_S)
            image, status = client.submit("adain", 1.0, 128, False, api_name="/stylize").result(
                timeout=REQUEST_TIMEOUT_S)
            assert status.startswith("Stylised"), f"user {user}: {status}"
            answers.append((status, _fetch_png(server["url"], image)))
        return answers

    results = _burst(user_session)
    for user, answers in enumerate(results):
        expected_image, expected_status = style_tab.stylize(contents[user], style, "adain", 1.0, 128, False)
        assert expected_image.shape == (64 + 8 * user, 128, 3)
        for status, image in answers:
            assert status.split(" in ")[0] == expected_status.split(" in ")[0]  # "Stylised WxH with ADAIN"
            assert image.shape == expected_image.shape, f"user {user} got another user's image"
            assert np.abs(image.astype(int) - expected_image.astype(int)).mean() < 1.0
    left = _wait_until_clean(server)
    assert left == [], f"left in Gradio's cache {RETENTION_S} s + sweep after the burst: {left[:5]}"
    assert _ours(server["tmp"]) == tmp_before


@pytest.mark.slow  # 24 predictions with plots and a GIF each: ~100 s on 2 busy cores (the style burst ~30 s)
def test_cp_tab_burst_every_request_right_and_nothing_kept(server, tmp_path):
    from cp_predict.formats import save_npz
    from cp_predict.predictor import predict
    from cp_predict.simulate import GeneratorConfig, generate
    from demos import cp_tab

    data = generate(GeneratorConfig(n=USERS, seed=3, frames=150))
    upload = save_npz(data, tmp_path / "infants.npz")  # one file, uploaded by every user: one Gradio path
    model = cp_tab._model()
    expected = {}
    for user in range(USERS):  # the summary run() writes, for the same infant, computed here
        expected[user] = cp_tab._summary(predict(model, data.subset([user]))[0], model)
        assert f"`{data.names[user]}`" in expected[user]
    tmp_before = _ours(server["tmp"])

    def user_session(user: int) -> list[tuple[str, dict]]:
        from gradio_client import handle_file

        client = _client(server["url"])
        answers = []
        for _ in range(ROUNDS):
            client.submit([handle_file(str(upload))], api_name="/skeleton_upload").result(timeout=REQUEST_TIMEOUT_S)
            summary, _, _, gif, _ = client.submit(None, user, api_name="/predict_risk").result(
                timeout=REQUEST_TIMEOUT_S)
            answers.append((summary, gif))
        return answers

    results = _burst(user_session)
    for user, answers in enumerate(results):
        for summary, gif in answers:
            assert summary == expected[user], f"user {user}: {summary[:200]}"
            assert gif and str(gif.get("path", "")).endswith(".gif")
    assert _ours(server["tmp"]) == tmp_before  # per-request folders (uploads, GIFs) gone with the response
    left = _wait_until_clean(server)
    assert left == [], f"left in Gradio's cache {RETENTION_S} s + sweep after the burst: {left[:5]}"
