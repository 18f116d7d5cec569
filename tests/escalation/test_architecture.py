"""Arrows point down: tickets know nothing of escalation, the domain nothing of the API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import supportdesk

PACKAGE = Path(supportdesk.__file__).parent


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, id(node) in top))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, id(node) in top) for alias in node.names)
    return found


def _modules(*domains: str) -> list[Path]:
    return sorted(p for d in domains for p in (PACKAGE / d).glob("*.py"))


def test_ticket_models_do_not_import_the_escalation_domain():
    """Ticket.vendor_case is declared from the escalation side (a backref)."""
    modules = [name for name, _top in _imports(PACKAGE / "tickets" / "models.py")]
    assert not [m for m in modules if m.startswith("supportdesk.escalation")]


@pytest.mark.parametrize(
    "path", _modules("escalation", "webhooks"), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_escalation_and_webhooks_never_import_the_api(path):
    """What a vendor sees is built in escalation/documents.py; the API only returns it."""
    assert not [m for m, _top in _imports(path) if m.startswith("supportdesk.api")]


@pytest.mark.parametrize(
    "path", _modules("escalation", "webhooks"), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_escalation_and_webhooks_import_at_module_level(path):
    """A function-level import hides a cycle; these modules have none to hide."""
    assert [m for m, top in _imports(path) if not top] == []
