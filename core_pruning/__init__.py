"""core_pruning: a reusable channel-pruning core for PyTorch CNNs."""

__version__ = "0.1.0"
