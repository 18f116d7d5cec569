"""The FAQ domain does not know search (STYLE.md: faq ← search): it announces changed
articles with `events.article_changed`, and search queues the index update."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FAQ = Path(__file__).resolve().parents[2] / "supportdesk" / "faq"


@pytest.mark.parametrize("module", ["models.py", "services.py", "files.py"])
def test_the_faq_domain_imports_nothing_of_search(module):
    tree = ast.parse((FAQ / module).read_text(encoding="utf-8"))
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    assert not [name for name in imported if name.startswith("supportdesk.search")]
