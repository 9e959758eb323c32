"""``python -m demos``: serve the prunelab Gradio app (default http://127.0.0.1:7860)."""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demos",
        description="Serve the prunelab demo app: style transfer, CP risk prediction and the pruning lab.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=7860, help="TCP port (default: 7860)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port must be 1..65535, got {args.port}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from demos.app import build_app

    app = build_app()
    print(f"prunelab demo: http://{args.host}:{args.port}", flush=True)
    try:
        app.queue().launch(server_name=args.host, server_port=args.port, share=False, show_error=True)
    except OSError as exc:  # e.g. port in use
        print(f"error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
