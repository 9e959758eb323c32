"""``python -m artnet train-decoder``: train the decoder to invert the (pruned) encoder.

Reconstruction training (pixel L1 + teacher perceptual loss), or with ``--objective adain`` the teacher-scored
content + style loss on training content x style pairs, or with ``--objective teacher`` imitation of the teacher's
AdaIN results on those pairs (:mod:`artnet.train_decoder`), in a run folder that the same command resumes.
``--export`` writes the final weights and a JSON card beside them.
"""

from __future__ import annotations

import argparse
from typing import Any

from artnet.commands.common import (
    add_training_arguments,
    check_export,
    print_summary,
    size_arg,
    training_card,
)
from artnet.train_decoder import OBJECTIVES


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="train the decoder to invert the (pruned) encoder",
        description="Reconstruction training (pixel L1 + teacher perceptual loss), see artnet.train_decoder. "
                    "Resumable: re-run the same command.")
    add_training_arguments(parser, steps=1000, batch=8, crop=160, lr=2e-3)
    parser.add_argument("--encoder", default="",
                        help="encoder weights (default: shipped pruned encoder) or imagenet")
    parser.add_argument("--perceptual-weight", type=float, default=0.05,
                        help="weight of the perceptual term (0.05)")
    parser.add_argument("--objective", choices=OBJECTIVES, default="reconstruction",
                        help="reconstruction (invert the encoder), adain (teacher-scored content + style loss on "
                             "train content x style pairs, plus reconstruction) or teacher (imitate the teacher's "
                             "AdaIN result on those pairs, plus reconstruction); see artnet.train_decoder")
    parser.add_argument("--content-weight", type=float, default=1.0,
                        help="adain: content term weight; teacher: imitation term weight (1)")
    parser.add_argument("--style-weight", type=float, default=1.0,
                        help="adain/teacher objective: style term weight (1; 0 leaves it out of teacher)")
    parser.add_argument("--reconstruction-weight", type=float, default=1.0,
                        help="adain/teacher objective: weight of the reconstruction term (1)")
    parser.add_argument("--init", default="", help="start from these decoder weights (e.g. weights/artnet_decoder.pt) "
                                                   "instead of random ones")
    parser.add_argument("--checkpoint-every", type=int, default=50,
                        help="steps between checkpoints (and validation scores for adain/teacher; 50)")
    parser.add_argument("--skips", action="store_true",
                        help="add the encoder's conv3 and conv1 features as AdaIN-aligned skips (zero-initialised; "
                             "with --init they widen that decoder); see artnet.skips")
    parser.add_argument("--validation-size", type=size_arg, default=256,
                        help="adain objective: long side of the validation pairs scored at each checkpoint (256)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from artnet.train_decoder import DecoderConfig, run_decoder_training
    from artnet.weights import write_card

    check_export(args)
    config = DecoderConfig(encoder=args.encoder, steps=args.steps, batch=args.batch, crop=args.crop, lr=args.lr,
                           perceptual_weight=args.perceptual_weight, seed=args.seed, threads=args.threads,
                           device=args.device, use_shared=not args.no_shared, objective=args.objective,
                           content_weight=args.content_weight, style_weight=args.style_weight,
                           reconstruction_weight=args.reconstruction_weight,
                           validation_size=args.validation_size, init=args.init, skips=args.skips,
                           checkpoint_every=args.checkpoint_every)
    summary = run_decoder_training(config, args.run_dir, export=args.export, progress=not args.no_progress)
    if args.export:
        encoder = args.encoder or "weights/artnet_encoder.pt"
        if args.objective == "reconstruction":
            what, data = f"decoder inverting the encoder {encoder}", ""
        else:
            what = f"decoder for the encoder {encoder}, trained with the {args.objective} objective"
            data = ("content x style crops of the stylisation split's train part (artnet.data.STYLIZATION_SPLIT); "
                    "validation pairs scored at each checkpoint; test pairs never trained or tuned on")
        if args.skips:
            what += ", with AdaIN-aligned encoder skips conv3 and conv1 (artnet.skips)"
        if args.init:
            what += f", fine-tuned from {args.init}"
        write_card(args.export, training_card(what, summary, args, asdict(config), data))
    print_summary(summary, args.json)
    return 0
