"""artnet: real-time universal style transfer with a zero-channel-pruned GoogLeNet encoder and S2.

Public API::

    from artnet import ArtNet
    net = ArtNet.load()                      # shipped pruned encoder + decoder (weights/artnet_*.pt)
    out = net.stylize(content, style, transform="s2", alpha=1.0).image

Transforms are named in one registry, :data:`artnet.transforms.TRANSFORMS` (``s2``, ``adain``, ``wct``). Nothing
here changes process-wide settings; for faster CPU inference a process may opt in to
:func:`artnet.runtime.retain_freed_memory`, as the command line does.

Command line: ``python -m artnet stylize|video|bench|distill|prune|train-decoder|export --help``.
"""

from artnet.model import ArtNet, StylizeResult
from artnet.transforms import StyleFeatures, adain, s2, wct

__version__ = "0.1.0"

__all__ = ["ArtNet", "StyleFeatures", "StylizeResult", "adain", "s2", "wct"]
