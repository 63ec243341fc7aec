""".dockerignore with Docker's rules: the last matching pattern decides, directories take their content."""

from __future__ import annotations

import pytest

from lifecycle.catalogue.dockerignore import included, parse

FILES = ["Dockerfile", "README.md", "docs/a.md", "docs/keep.md", "src/x.py", "src/deep/y.tmp", "z.tmp",
         "build/out/bin", "data1.txt", "datax.txt", ".git/HEAD"]


@pytest.mark.parametrize("rules, kept", [
    ("", FILES),
    ("*.md", [f for f in FILES if f != "README.md"]),  # * does not cross /
    ("**/*.md\n!docs/keep.md", [f for f in FILES if f not in ("README.md", "docs/a.md")]),
    ("**/*.tmp", [f for f in FILES if not f.endswith(".tmp")]),
    ("build", [f for f in FILES if not f.startswith("build/")]),
    ("/docs/\n# comment\n\n", [f for f in FILES if not f.startswith("docs/")]),
    ("data[0-9].txt", [f for f in FILES if f != "data1.txt"]),
    ("data?.txt\n!data[!0-9].txt", [f for f in FILES if f != "data1.txt"]),
    ("*\n!Dockerfile\n!src", ["Dockerfile", "src/x.py", "src/deep/y.tmp"]),
    ("!src/x.py\nsrc", [f for f in FILES if not f.startswith("src/")]),  # the last match wins
    ("./docs/../z.tmp\n.git", [f for f in FILES if f not in ("z.tmp", ".git/HEAD")]),
])
def test_rules(rules, kept):
    parsed = parse(rules)
    assert [f for f in FILES if included(f, parsed)] == kept
