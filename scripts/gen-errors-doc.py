#!/usr/bin/env python3
"""Regenerates the table of docs/errors.md from the catalog in errors/src/lib.rs.

Each catalog row is `/// doc` followed by `Variant = ("CODE", status, "hint"),`.
The page's prose before and after the table is kept. node/tests/node/error_catalog.rs
checks that the two agree; run this after adding a code.
"""
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
source = (root / "errors/src/lib.rs").read_text()
rows = re.findall(
    r'///\s*(.+?)\n\s*\w+\s*=\s*\("([A-Z_]+)",\s*(\d+),\s*"((?:[^"\\]|\\.)*)"\)',
    source,
)
page = root / "docs/errors.md"
lines = page.read_text().splitlines()
first = next(i for i, l in enumerate(lines) if l.startswith("| `"))
last = max(i for i, l in enumerate(lines) if l.startswith("| `"))
table = [f"| `{code}` | {status} | {doc} | {hint} |" for doc, code, status, hint in rows]
page.write_text("\n".join(lines[:first] + table + lines[last + 1 :]) + "\n")
print(f"{len(table)} codes written to {page.relative_to(root)}")
