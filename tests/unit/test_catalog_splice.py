"""A hold rewrites only the held entries' lines of manifests/images.yml: every other byte stays main's."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.catalogue.catalog_splice import splice_entries
from lifecycle.production.gitops import held_catalog

SHIPPED = Path(__file__).resolve().parents[2] / "manifests" / "images.yml"


def entry_span(text: str, tagbase: str) -> tuple[int, int]:
    """(first, last+1) line indexes of `tagbase`'s entry: from its dash to the line before the next blank
    line or entry (how the shipped catalogue lays entries out)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip(" -").startswith(f"tagBase: {tagbase}")
                 and line.lstrip().startswith("-"))
    end = start + 1
    while end < len(lines) and lines[end].strip() and not lines[end].lstrip().startswith("-"):
        end += 1
    return start, end


def outside(text: str, span: tuple[int, int]) -> list[str]:
    lines = text.splitlines(keepends=True)
    return lines[:span[0]] + lines[span[1]:]


def test_the_shipped_catalogue_keeps_every_line_but_the_held_entry():
    main = SHIPPED.read_text()
    second = main.split("- tagBase: ")[2].split("\n")[0].strip()
    # production's entry of that image: an older build arg and one more line
    start, end = entry_span(main, second)
    lines = main.splitlines(keepends=True)
    old = lines[start:end] + [lines[start][: lines[start].index("-")] + "  comment: held\n"]
    old = [line.replace("3.30.3", "3.28.0") for line in old]
    production = "".join(lines[:start] + old + lines[end:])
    out = held_catalog(main, production, [second])
    assert out != main
    assert outside(out, entry_span(out, second)) == outside(main, (start, end))
    assert out.splitlines(keepends=True)[start:start + len(old)] == old
    # nothing held: byte for byte main's file
    assert held_catalog(main, production, []) == main


ZERO_INDENT_MAIN = """\
registry: r.io
repository: team/x
images:
- tagBase: a
  dockerfile: src/a   # a's folder
  buildArgs:
    V: "2"
- tagBase: b
  dockerfile: src/b

# c comes last
- tagBase: c
  dockerfile: src/c
source: https://example.invalid/repo
"""

# production written in the shipped style (entries indented by two, a blank line between them)
INDENTED_PRODUCTION = """\
registry: r.io
repository: team/x
images:
  - tagBase: a
    dockerfile: src/a
    buildArgs:
      V: "1"

  - tagBase: b
    dockerfile: src/b-old

  - tagBase: d
    dockerfile: src/d
source: https://example.invalid/repo
"""


def test_a_zero_indent_catalogue_keeps_its_style_and_takes_production_entries_shifted():
    out = splice_entries(ZERO_INDENT_MAIN, INDENTED_PRODUCTION, ["a"])
    main_lines = ZERO_INDENT_MAIN.splitlines(keepends=True)
    out_lines = out.splitlines(keepends=True)
    assert out_lines[:3] == main_lines[:3] and out_lines[7:] == main_lines[7:]
    assert out_lines[3:7] == ["- tagBase: a\n", "  dockerfile: src/a\n", "  buildArgs:\n", '    V: "1"\n']


def test_removed_and_added_entries_touch_only_their_lines():
    # c exists only on main: held, its lines go; the comment above it sits at the dash column, so it is
    # main's separator and stays. d exists only on production: held, it is appended after the last entry.
    out = splice_entries(ZERO_INDENT_MAIN, INDENTED_PRODUCTION, ["c", "d"])
    assert "tagBase: c" not in out and "src/c" not in out
    assert out.startswith(ZERO_INDENT_MAIN.split("- tagBase: c")[0])
    assert "- tagBase: d\n  dockerfile: src/d\nsource: https://example.invalid/repo\n" in out


def test_an_indented_catalogue_gets_a_zero_indent_entry_shifted_right():
    out = splice_entries(INDENTED_PRODUCTION, ZERO_INDENT_MAIN, ["b"])
    expected = INDENTED_PRODUCTION.replace("  - tagBase: b\n    dockerfile: src/b-old\n",
                                           "  - tagBase: b\n    dockerfile: src/b\n")
    assert out == expected


def test_a_last_entry_without_a_final_newline():
    main = "registry: r\nrepository: x\nimages:\n  - tagBase: a\n    dockerfile: src/a"
    prod = "registry: r\nrepository: x\nimages:\n  - tagBase: a\n    dockerfile: src/old\n"
    assert splice_entries(main, prod, ["a"]) == "registry: r\nrepository: x\nimages:\n  - tagBase: a\n" \
                                                "    dockerfile: src/old\n"


@pytest.mark.parametrize("held", [["a"], ["b"], ["a", "b"]])
def test_flow_style_catalogues_still_work(held):
    main = 'registry: r\nrepository: x\nimages: [{tagBase: a, dockerfile: src/a}, {tagBase: b, dockerfile: src/b}]\n'
    prod = 'registry: r\nrepository: x\nimages: [{tagBase: a, dockerfile: src/a0}, {tagBase: b, dockerfile: src/b0}]\n'
    out = splice_entries(main, prod, held)
    for tagbase in ("a", "b"):
        assert (f"src/{tagbase}0" in out) == (tagbase in held)
