"""The house rules of docs/architecture.md, checked on the source: arrows point down.

Every rule reads the imports of `supportdesk/` with `ast` (nothing is imported), so a
new module that breaks one fails here with the file, the line and the rule's reason.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "supportdesk"
MAX_MODULE_LINES = 700

# Entry points: they receive requests and commands and may use any domain. Nothing in a
# domain's core (models, policy, services and their helpers) may import them.
EDGE_SUFFIXES = ("views", "forms", "cli", "navigation", "form_pages", "i18n")
EDGE_PACKAGES = ("supportdesk.api", "supportdesk.demo")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # what it imports, dotted (`from a import b` gives `a` and `a.b`)
    line: int
    top_level: bool  # at module level (including `if TYPE_CHECKING:`), not in a function


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[Import]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(Import(module, a.name, child.lineno, top_level) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.append(Import(module, base, child.lineno, top_level))
                found.extend(
                    Import(module, f"{base}.{a.name}", child.lineno, top_level) for a in child.names
                )
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, False)
            else:
                visit(child, top_level)

    visit(ast.parse(path.read_text(encoding="utf-8")), True)
    return found


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
IMPORTS = [i for p in MODULES.values() for i in _imports(p)]


def _internal(imports: list[Import]) -> list[Import]:
    """Imports of other supportdesk modules (`from supportdesk import x` names x, not the
    package, which every submodule loads first anyway)."""
    return [i for i in imports if i.target in MODULES and i.target not in (i.module, "supportdesk")]


def _is_edge(module: str) -> bool:
    last = module.rpartition(".")[2]
    return (
        module == "supportdesk"
        or module.endswith(EDGE_SUFFIXES)
        or last.endswith("_views")
        or module.startswith(EDGE_PACKAGES)
    )


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def strong(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                strong(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strong(node)
    return found


def test_no_import_cycle_among_modules():
    """A cycle means misplaced code (STYLE.md); module-level imports must form a DAG."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for imp in _internal(IMPORTS):
        if imp.top_level:
            graph[imp.module].add(imp.target)
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_function_level_imports_say_why():
    """An import inside a function hides a cycle or a cost; a comment names it (on the
    import, or on the line above its group of imports)."""
    silent = []
    for imp in _internal(IMPORTS):
        if imp.top_level:
            continue
        lines = MODULES[imp.module].read_text(encoding="utf-8").splitlines()
        number = imp.line - 1
        while "#" not in lines[number] and lines[number - 1].lstrip().startswith(
            ("from ", "import ")
        ):
            number -= 1
        if "#" not in lines[number] and not lines[number - 1].lstrip().startswith("#"):
            silent.append(f"{imp.module}:{imp.line} imports {imp.target}")
    assert silent == []


def test_the_core_never_imports_an_entry_point():
    """Views, forms, the API, commands, the menu and the demo use the domains, not back."""
    wrong = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in _internal(IMPORTS)
        if not _is_edge(i.module) and _is_edge(i.target)
    ]
    assert wrong == []


# (importer prefix, forbidden target prefix, why) — the arrows of docs/architecture.md
FORBIDDEN = [
    ("supportdesk.accounts", "supportdesk.tickets", "accounts ← tickets"),
    ("supportdesk.accounts", "supportdesk.escalation", "accounts ← escalation"),
    ("supportdesk.tickets", "supportdesk.escalation", "tickets ← escalation"),
    ("supportdesk.tickets", "supportdesk.faq", "tickets announce, the FAQ listens (events)"),
    ("supportdesk.tickets", "supportdesk.webhooks", "tickets ← webhooks"),
    ("supportdesk.notifications", "supportdesk.tickets", "notifications serve every domain"),
    ("supportdesk.notifications", "supportdesk.escalation", "notifications serve every domain"),
    ("supportdesk.tickets", "supportdesk.replies", "tickets ← replies"),
    ("supportdesk.faq", "supportdesk.replies", "faq ← replies"),
    ("supportdesk.accounts", "supportdesk.replies", "accounts ← replies"),
    ("supportdesk.faq.models", "supportdesk.search", "faq ← search"),
    ("supportdesk.faq.services", "supportdesk.search", "faq ← search"),
    ("supportdesk.faq.files", "supportdesk.search", "faq ← search"),
    ("supportdesk.escalation", "supportdesk.api", "what a vendor sees is escalation/documents"),
    ("supportdesk.webhooks", "supportdesk.api", "what a vendor sees is escalation/documents"),
    ("supportdesk.accounts", "supportdesk.reports", "reports read the domains, not back"),
    ("supportdesk.tickets", "supportdesk.reports", "reports read the domains, not back"),
    ("supportdesk.escalation", "supportdesk.reports", "reports read the domains, not back"),
    ("supportdesk.faq", "supportdesk.reports", "reports read the domains, not back"),
    ("supportdesk.reports", "supportdesk.api", "the API serialises the reports' figures"),
    ("supportdesk.outbox", "supportdesk.", "the outbox knows only the database"),
    ("supportdesk.events", "supportdesk.", "signals know no domain"),
    ("supportdesk.cache.generations", "supportdesk.cache.fragments", "sessions know no HTML"),
]


@pytest.mark.parametrize(("source", "target", "why"), FORBIDDEN, ids=lambda v: str(v))
def test_domains_depend_one_way(source, target, why):
    allowed_foundation = ("supportdesk.extensions",)
    wrong = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in _internal(IMPORTS)
        if (i.module == source or i.module.startswith(f"{source}."))
        and i.target.startswith(target)
        and not i.target.startswith(allowed_foundation)
        and i.target != source
    ]
    assert wrong == [], why


REQUEST_SIDE = ("flask.request", "flask.g", "flask_wtf", "flask_babel.get_locale", "flask_login")


def test_models_do_not_import_request_side_code():
    """Models know the database and each other, not the request (STYLE.md); User alone
    carries Flask-Login's mixin."""
    wrong = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in IMPORTS
        if i.module.endswith(".models")
        and i.target.startswith((*REQUEST_SIDE, "supportdesk.cache.fragments"))
        and not (i.module == "supportdesk.accounts.models" and i.target.startswith("flask_login"))
    ]
    assert wrong == []


def test_no_module_is_a_wing():
    """A module is a room, not a wing: split one along its sections before it gets here."""
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
