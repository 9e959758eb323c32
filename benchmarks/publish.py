"""Write a benchmark's printed tables into its docs page: ``python benchmarks/publish.py docs/cp_predict.md speed``.

A docs page marks each published result with the command that makes it::

    <!-- results:speed command="python benchmarks/cp_inference_speed.py --threads 1" -->
    ...whatever the command printed last time (its header holds command, machine and date)...
    <!-- /results:speed -->

``publish.py PAGE NAME...`` runs each named section's command from the repository root and replaces the text between
its markers with the command's stdout, so the tables in ``docs/`` are the benchmark scripts' own output, never
retyped. ``--list`` shows a page's sections. A failing command leaves the page unchanged (its stderr is shown), and
the page is rewritten atomically.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prunelab.cli import cli_entry  # noqa: E402
from prunelab.errors import InputError  # noqa: E402
from prunelab.io import atomic_write_text  # noqa: E402

_START = re.compile(r'^<!-- results:(?P<name>[\w.-]+) command="(?P<command>[^"]+)" -->$', re.MULTILINE)


@dataclass(frozen=True)
class Section:
    """One published result: its name, the command that makes it, and where its body lies in the page text."""

    name: str
    command: str
    body_start: int
    body_end: int


def sections(text: str) -> dict[str, Section]:
    """The marked sections of a page; an unclosed or repeated marker is an :class:`InputError`."""
    found: dict[str, Section] = {}
    for match in _START.finditer(text):
        name = match["name"]
        end_marker = f"<!-- /results:{name} -->"
        end = text.find(end_marker, match.end())
        if end < 0:
            raise InputError(f"section {name!r} has no closing {end_marker}")
        if name in found:
            raise InputError(f"section {name!r} appears twice")
        found[name] = Section(name, match["command"], match.end() + 1, end)
    return found


def run_command(command: str, cwd: Path = REPO) -> str:
    """The stdout of ``command`` (``python`` is this interpreter); :class:`InputError` with its stderr if it fails."""
    argv = shlex.split(command)
    if argv and argv[0] == "python":
        argv[0] = sys.executable
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InputError(f"{command!r} failed with exit code {done.returncode}: {last}")
    return done.stdout


def as_markdown(output: str) -> str:
    """The script's output, made to render: its ``## title`` in bold (the page keeps its own headings), header lines
    as one paragraph with hard line breaks, and a blank line around each table."""
    lines: list[str] = []
    for line in output.rstrip().splitlines():
        if line.startswith("## ") and not lines:
            line = f"**{line[3:].strip()}**"
        after = lines[-1] if lines else ""
        if after.strip() and line.strip() and line.startswith("|") != after.startswith("|"):
            lines.append("")  # a table stands apart from the text before and after it
        lines.append(line)
    # consecutive text lines keep their line breaks (a trailing backslash) instead of running together
    def text(line: str) -> bool:
        return bool(line.strip()) and not line.startswith("|")

    for i in range(len(lines) - 1):
        if text(lines[i]) and text(lines[i + 1]):
            lines[i] = lines[i].rstrip() + "\\"
    return "\n".join(lines) + "\n"


def publish(page: Path, names: list[str], cwd: Path = REPO) -> list[str]:
    """Re-run the named sections of ``page`` and write their output in; returns the names written."""
    text = page.read_text()
    known = sections(text)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"{page} has no section {unknown[0]!r} (sections: {', '.join(known) or 'none'})")
    outputs = {name: as_markdown(run_command(known[name].command, cwd)) for name in names}  # all before writing
    for name in sorted(names, key=lambda n: known[n].body_start, reverse=True):
        section = known[name]
        text = text[: section.body_start] + outputs[name] + text[section.body_end:]
    atomic_write_text(text, page)
    return names


@cli_entry
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="a docs page, e.g. docs/cp_predict.md")
    parser.add_argument("names", nargs="*", help="sections to re-run (default: none; see --list)")
    parser.add_argument("--list", action="store_true", help="list the page's sections and their commands")
    args = parser.parse_args(argv)
    found = sections(args.page.read_text())
    if args.list or not args.names:
        for section in found.values():
            print(f"{section.name}: {section.command}")
        return 0
    for name in publish(args.page, args.names):
        print(f"wrote {name} into {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
