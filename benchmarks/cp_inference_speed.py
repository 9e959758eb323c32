"""CPU inference time per 300-frame sequence (target <= 20 ms on 2 cores) and pose extraction per frame.

Rows: each model's forward pass on one 12 s sequence (batch of one), then the whole ``predict`` pipeline
(pre-processing, final model, 5 fold models for the band, Grad-CAM map, quality report), and the pruned
attention model when ``--pruned`` names one. Pose extraction (BlazePose, ``video`` extra) is timed on a
generated clip of a photographed person when mediapipe is importable (run with the video venv).

    python benchmarks/cp_inference_speed.py [--threads 2] [--pruned runs/cp_bench/pruned]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from cp_common import header, table

from cp_predict.models import TrainConfig, create_model
from cp_predict.predictor import load_model, predict
from cp_predict.simulate import GeneratorConfig, generate


def timed(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--pruned", help="a pruned model directory (python -m cp_predict prune ...)")
    parser.add_argument("--video-frames", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(header(f"cp_predict: CPU inference per 300-frame (12 s) sequence, {args.threads} thread(s)"))
    one = generate(GeneratorConfig(n=1, seed=5))
    from cp_predict.preprocess import prepare

    x = prepare(one)
    shipped = load_model()
    rows = []
    models = {"attention (shipped)": shipped.final}
    for name in ("stgcn", "logreg", "speed"):
        fit_x = prepare(generate(GeneratorConfig(n=8, seed=6)))
        models[name] = create_model(name, TrainConfig(epochs=1)).fit(fit_x, np.arange(8) % 2, 25.0)
    if args.pruned:
        models["attention (pruned)"] = load_model(args.pruned).final
    for name, model in models.items():
        ms = timed(lambda m=model: m.decision_function(x, 25.0), args.repeats)
        rows.append({"what": f"{name}: forward", "ms per sequence": f"{ms:.2f}",
                     "target <= 20 ms": "yes" if ms <= 20 else "NO"})
    ms = timed(lambda: predict(shipped, one, with_map=False), max(5, args.repeats // 3))
    rows.append({"what": "predict() without Grad-CAM map (pre-processing, final + 5 fold models, quality)",
                 "ms per sequence": f"{ms:.1f}", "target <= 20 ms": "yes" if ms <= 20 else "NO"})
    ms = timed(lambda: predict(shipped, one, with_map=True), max(5, args.repeats // 3))
    rows.append({"what": "predict() with Grad-CAM joint x time map", "ms per sequence": f"{ms:.1f}",
                 "target <= 20 ms": "yes" if ms <= 20 else "NO"})
    print(table(rows, list(rows[0])))
    from cp_predict.video import mediapipe_available

    if not mediapipe_available():
        print("\npose extraction: mediapipe not installed here (pip install 'prunelab[video]'); not measured")
        return 0
    import cv2
    from skimage import data

    from cp_predict.video import extract_skeleton

    person = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "person.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, person.shape[1::-1])
        for shift in range(args.video_frames):
            writer.write(np.roll(person, shift, axis=1))
        writer.release()
        extract_skeleton(path, max_frames=5)  # warm-up (graph initialisation)
        result = extract_skeleton(path)
    print(f"\npose extraction (BlazePose, model_complexity=1, {person.shape[1]}x{person.shape[0]} frames): "
          f"{1000 * result.seconds_per_frame:.1f} ms per frame over {result.quality['frames']} frames, "
          f"pose found in {result.quality['frames_with_pose']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
