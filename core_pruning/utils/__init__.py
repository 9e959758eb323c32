"""Small helpers shared by every prunelab package: CLI error handling, atomic writes, seeding."""

from core_pruning.utils.cli import (
    InputError,
    OutputError,
    UnreachableTarget,
    check_output_path,
    clean_message,
    cli_entry,
    ensure_folder,
    error_message,
    positive_int,
    print_json,
)
from core_pruning.utils.io import atomic_save, atomic_write_bytes, atomic_write_text
from core_pruning.utils.machine import cpu_name
from core_pruning.utils.npz import check_npz
from core_pruning.utils.paths import weights_dir, weights_file
from core_pruning.utils.seed import seed_everything

__all__ = [
    "InputError",
    "OutputError",
    "UnreachableTarget",
    "atomic_save",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_npz",
    "check_output_path",
    "clean_message",
    "cli_entry",
    "ensure_folder",
    "error_message",
    "cpu_name",
    "positive_int",
    "print_json",
    "seed_everything",
    "weights_dir",
    "weights_file",
]
