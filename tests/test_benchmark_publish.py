"""benchmarks/publish.py: docs tables are the benchmark scripts' own output, re-run in place, never retyped."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from publish import main, publish, sections  # noqa: E402

from prunelab.errors import InputError  # noqa: E402

PAGE = """# Results

Some prose that must stay.

<!-- results:first command="python {script} 1" -->
old table one
<!-- /results:first -->

More prose.

<!-- results:second command="python {script} 2" -->
old table two
<!-- /results:second -->
"""


def _page(tmp_path: Path) -> Path:
    script = tmp_path / "bench.py"
    script.write_text("import sys\nn = sys.argv[1]\nif n == '0': sys.exit('boom')\n"
                      "print(f'## Title {n}\\ncommand: x\\ndate: y\\n| n |\\n|---|\\n| {n} |\\nnote after')\n")
    page = tmp_path / "page.md"
    page.write_text(PAGE.format(script=script))
    return page


def test_publish_rewrites_only_the_named_section(tmp_path):
    page = _page(tmp_path)
    publish(page, ["second"], cwd=tmp_path)
    text = page.read_text()
    assert "old table one" in text and "old table two" not in text
    assert "| 2 |" in text and "Some prose that must stay." in text and "More prose." in text
    # it renders: a bold title, hard line breaks in the header, the table apart from the text around it
    assert "**Title 2**\\\ncommand: x\\\ndate: y\n\n| n |" in text and "| 2 |\n\nnote after" in text
    assert list(sections(text)) == ["first", "second"]  # markers kept, so it can be re-run
    publish(page, ["first", "second"], cwd=tmp_path)
    assert page.read_text().count("| n |") == 2


def test_failing_command_or_unknown_section_leaves_the_page_unchanged(tmp_path, capsys):
    page = _page(tmp_path)
    before = page.read_text()
    page.write_text(before.replace(" 2\" -->", " 0\" -->"))
    before = page.read_text()
    with pytest.raises(InputError, match="failed with exit code 1: boom"):
        publish(page, ["first", "second"], cwd=tmp_path)
    assert page.read_text() == before
    assert main([str(page), "third"]) == 2
    assert "has no section 'third' (sections: first, second)" in capsys.readouterr().err
    assert page.read_text() == before


def test_unclosed_marker_is_refused(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('<!-- results:x command="python -c pass" -->\nno end\n')
    with pytest.raises(InputError, match="no closing"):
        sections(page.read_text())
