"""The ``python -m cp_predict`` commands, one module each (``add_parser(subparsers, name)`` and ``run(args)``)."""
