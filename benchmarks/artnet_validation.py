"""Score decoders on the stylisation split's validation pairs against the teacher's own AdaIN (issue 13).

    python benchmarks/artnet_validation.py weights/artnet_decoder.pt runs/dec_adain/checkpoint.pt --alphas 1,0.8,0.6

Each decoder (a shipped weights file or a ``train-decoder`` run's ``checkpoint.pt``) stylises every validation
content x style pair (:data:`artnet.data.STYLIZATION_SPLIT`) with AdaIN on the shipped pruned encoder; the
teacher metric (:mod:`artnet.metrics`) scores content and mean/std style loss, printed as ratios to the teacher
enc4/dec4 + AdaIN on the same pairs (below 1 = better than the teacher; issue 13's target is <= 1.10 for both,
on the test pairs). Settings are chosen here; the test pairs are for the final figures only.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import torch

from artnet.decoder import Decoder
from artnet.teacher import load_teacher_encoder
from artnet.train_decoder import ValidationScore
from artnet.weights import decoder_from_state_dict, load_decoder, load_encoder
from prunelab.machine import cpu_name


def _decoder(path: Path, in_channels: int) -> Decoder:
    if path.name == "checkpoint.pt":
        blob = torch.load(path, map_location="cpu", weights_only=True)
        decoder = decoder_from_state_dict(blob["decoder"])
        if decoder.in_channels != in_channels:
            raise SystemExit(f"error: {path} takes {decoder.in_channels} channels, the encoder gives {in_channels}")
        return decoder
    return load_decoder(path).float()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("decoders", nargs="+", type=Path, help="decoder weights files or run checkpoint.pt files")
    parser.add_argument("--alphas", default="1", help="comma-separated alphas (default 1)")
    parser.add_argument("--size", type=int, default=256, help="long side of the validation images (256)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    encoder = load_encoder().eval()
    score = ValidationScore(encoder, load_teacher_encoder(4).eval(), True, args.size, torch.device("cpu"))
    print(f"command: python {' '.join(sys.argv)}\nmachine: {cpu_name()}, torch {torch.__version__}, "
          f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC\n{len(score.pairs)} validation pairs at "
          f"{args.size} px; teacher AdaIN: content {score.reference[0]:.4f}, style {score.reference[1]:.4f}\n")
    print("| decoder | alpha | content / teacher | style / teacher |\n|---|---:|---:|---:|")
    for path in args.decoders:
        decoder = _decoder(path, encoder.out_channels)
        for alpha in (float(a) for a in args.alphas.split(",")):
            ratios = score(decoder, alpha)
            print(f"| {path} | {alpha:g} | {ratios['val_content_ratio']:.3f} | {ratios['val_style_ratio']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
