"""artnet: real-time universal style transfer with a zero-channel-pruned GoogLeNet encoder and S2."""

__version__ = "0.1.0"
