"""CPU inference time per 300-frame sequence (target <= 20 ms on 2 cores) and pose extraction per frame.

Rows: each model's forward pass on one 12 s sequence (batch of one), then the whole ``predict`` pipeline
(pre-processing, final model, 5 fold models for the band, Grad-CAM map, quality report), and the pruned
attention model when ``--pruned`` names one. Pose extraction (BlazePose, ``video`` extra) is timed on a
generated clip of a photographed person when mediapipe is importable (run with the video venv).

    python benchmarks/cp_inference_speed.py [--threads 2] [--pruned runs/cp_bench/pruned]
"""

from __future__ import annotations

import argparse
import os
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


def timed(fn, repeats: int, threads: int) -> tuple[float, float]:
    """Median wall-clock and calling-thread CPU milliseconds of ``fn()`` with ``threads`` torch threads.

    With 1 thread every op runs on the calling thread, so its CPU time is the compute itself, much less
    disturbed than the wall clock when other jobs share the machine.
    """
    torch.set_num_threads(threads)
    for _ in range(3):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--pruned", help="a pruned model directory (python -m cp_predict prune ...)")
    parser.add_argument("--video-frames", type=int, default=125,
                        help="frames of the generated clip at 25 fps (>= 100: recordings under 4 s are refused)")
    args = parser.parse_args()
    print(header("cp_predict: CPU inference per 300-frame (12 s) sequence"))
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
    def add(what: str, fn, repeats: int) -> None:
        wall, _ = timed(fn, repeats, args.threads)
        _, cpu = timed(fn, repeats, 1)
        rows.append({"what": what, f"wall ms, {args.threads} threads": f"{wall:.2f}",
                     "CPU ms, 1 thread": f"{cpu:.2f}", "<= 20 ms": "yes" if min(wall, cpu) <= 20 else "NO"})

    for name, model in models.items():
        add(f"{name}: forward", lambda m=model: m.decision_function(x, 25.0), args.repeats)
    add("predict() without map (pre-processing, final + 5 fold models, quality)",
        lambda: predict(shipped, one, with_map=False), max(5, args.repeats // 3))
    add("predict() with the Grad-CAM joint x time map", lambda: predict(shipped, one, with_map=True),
        max(5, args.repeats // 3))
    print(table(rows, list(rows[0])))
    print(f"load average while measuring: {' / '.join(f'{v:.1f}' for v in os.getloadavg())} (1/5/15 min)")
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
        extract_skeleton(path)  # warm-up (graph initialisation, file cache)
        result = extract_skeleton(path)
    print(f"\npose extraction (BlazePose, model_complexity=1, {person.shape[1]}x{person.shape[0]} frames): "
          f"{1000 * result.seconds_per_frame:.1f} ms per frame over {result.quality['frames']} frames, "
          f"pose found in {result.quality['frames_with_pose']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
