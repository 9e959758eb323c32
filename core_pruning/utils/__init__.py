"""Small helpers shared by every prunelab package: CLI error handling, atomic writes, seeding."""

from core_pruning.utils.cli import (
    InputError,
    UnreachableTarget,
    check_output_path,
    cli_entry,
    positive_int,
    print_json,
)
from core_pruning.utils.io import atomic_save, atomic_write_text
from core_pruning.utils.machine import cpu_name
from core_pruning.utils.paths import weights_dir, weights_file
from core_pruning.utils.seed import seed_everything

__all__ = [
    "InputError",
    "UnreachableTarget",
    "atomic_save",
    "atomic_write_text",
    "check_output_path",
    "cli_entry",
    "cpu_name",
    "positive_int",
    "print_json",
    "seed_everything",
    "weights_dir",
    "weights_file",
]
