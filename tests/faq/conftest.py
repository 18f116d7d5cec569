"""FAQ fixtures: the demo systems and municipalities, a clean index, either search backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportdesk.accounts.models import Category, System
from supportdesk.demo.organisations import SYSTEMS, VENDORS
from supportdesk.extensions import db as _db
from supportdesk.search import get_backend
from supportdesk.search.postgres_backend import PostgresBackend

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "faq_content"


@pytest.fixture
def faq_world(app, make_vendor, make_municipality):
    """Vendors, systems and categories as in the demo, plus esbjerg and aalborg."""
    vendors = {slug: make_vendor(slug) for slug, _name, _mail in VENDORS}
    systems = {}
    for slug, name, vendor_slug, categories in SYSTEMS:
        system = System(slug=slug, name=name, vendor=vendors[vendor_slug])
        for cat_slug, cat_name in categories:
            system.categories.append(Category(slug=cat_slug, name=cat_name))
        _db.session.add(system)
        systems[slug] = system
    _db.session.commit()
    municipalities = {s: make_municipality(s) for s in ("esbjerg", "aalborg", "odense")}
    get_backend(app).rebuild([])
    return {"vendors": vendors, "systems": systems, "municipalities": municipalities}


@pytest.fixture(params=["whoosh", "postgres"])
def search_backend(request, app):
    """The test once per search backend; PostgreSQL full text only on the PostgreSQL app."""
    if request.param == "whoosh":
        yield get_backend(app)
    else:
        yield from postgres_search(app)


@pytest.fixture
def postgres_backend(app):
    """The PostgreSQL full-text backend as the app's search (collected only on PostgreSQL)."""
    yield from postgres_search(app)


def postgres_search(app):
    # Collected only with the PostgreSQL app (tests/conftest.py: POSTGRESQL_ONLY_FIXTURES).
    assert _db.engine.dialect.name == "postgresql"
    backend = PostgresBackend(synonyms_path=str(CONTENT / "synonyms.txt"))
    previous = app.extensions.get("supportdesk.search")
    app.extensions["supportdesk.search"] = backend
    backend.rebuild([])
    yield backend
    if previous is None:
        app.extensions.pop("supportdesk.search", None)
    else:
        app.extensions["supportdesk.search"] = previous


def write_article(root: Path, system: str, slug: str, **meta) -> Path:
    body = meta.pop("body", "Tekst til artiklen.")
    fields = {
        "title": meta.pop("title", slug.replace("-", " ").title()),
        "system": system,
        "category": meta.pop("category", "login"),
        "tags": meta.pop("tags", "[]"),
        "audience": meta.pop("audience", "first_level"),
        **meta,
        "updated": meta.get("updated", "2026-10-01"),
    }
    lines = ["---", *(f"{k}: {v}" for k, v in fields.items()), "---", body, ""]
    path = root / system / f"{slug}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
