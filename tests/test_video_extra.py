"""Installing the ``video`` extra (mediapipe + opencv-contrib) must leave a working ``cv2``.

Slow: builds a fresh virtual environment and installs prunelab[video] into it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHECK = r"""
import cv2, numpy as np, mediapipe as mp, tempfile, os
ok, png = cv2.imencode(".png", np.full((8, 8, 3), 200, np.uint8))
assert ok and cv2.imdecode(png, cv2.IMREAD_COLOR).mean() == 200
path = os.path.join(tempfile.mkdtemp(), "v.avi")
writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 32))
for i in range(5):
    writer.write(np.full((32, 32, 3), i * 40, np.uint8))
writer.release()
cap = cv2.VideoCapture(path)
frames = 0
while cap.read()[0]:
    frames += 1
assert frames == 5, frames
with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
    pose.process(np.zeros((64, 64, 3), np.uint8))
print("cv2", cv2.__version__, "numpy", np.__version__)
"""


@pytest.mark.slow
def test_video_extra_leaves_working_cv2(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", f"{REPO}[video]"], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    result = subprocess.run([str(py), "-c", CHECK], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("cv2 4.11")
