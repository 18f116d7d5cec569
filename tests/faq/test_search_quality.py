"""Search quality on the real starter content: recall@5 over tests/faq/search_quality.yaml."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import select

from supportdesk.faq.models import Article, Audience, Visibility
from supportdesk.search import get_backend
from tests.faq.conftest import CONTENT

QUERIES = Path(__file__).with_name("search_quality.yaml")


def _visibility_for(articles: list[Article]) -> Visibility:
    """A first-level user who may see the expected articles (their municipality/vendor)."""
    municipality = next(
        (a.municipality_id for a in articles if a.audience == Audience.municipal), None
    )
    vendor = next(
        (a.system.vendor_id for a in articles if a.audience == Audience.vendor_internal), None
    )
    return Visibility(first_level=True, municipality_id=municipality, vendor_id=vendor)


def test_recall_at_5_on_the_starter_content(app, db, search_backend, faq_world, capsys):
    result = app.test_cli_runner().invoke(args=["faq", "import", str(CONTENT)])
    assert result.exit_code == 0, result.output
    cases = yaml.safe_load(QUERIES.read_text(encoding="utf-8"))
    assert len(cases) >= 40
    articles = {a.slug: a for a in db.session.scalars(select(Article))}
    backend = get_backend()
    hits_any = hits_all = 0
    misses = []
    by_note: dict[str, list[int]] = {}
    for case in cases:
        expected = case["expect"]
        assert all(slug in articles for slug in expected), case
        found = backend.search(
            case["query"], _visibility_for([articles[s] for s in expected]), limit=5
        )
        top = [hit.slug for hit in found.hits]
        ok = any(slug in top for slug in expected)
        hits_any += ok
        hits_all += all(slug in top for slug in expected)
        by_note.setdefault(case.get("note", "plain"), []).append(ok)
        if not ok:
            misses.append(
                f"  {case['query']!r} ({case.get('note')}): expected {expected}, got {top}"
            )
    recall = hits_any / len(cases)
    with capsys.disabled():
        print(
            f"\nFAQ search recall@5 ({type(backend).__name__}): {recall:.3f}"
            f" ({hits_any}/{len(cases)} queries);"
            f" all expected in top 5: {hits_all / len(cases):.3f}"
        )
        for note, oks in sorted(by_note.items()):
            print(f"  {note:<11} {sum(oks)}/{len(oks)}")
        if misses:
            print("misses:\n" + "\n".join(misses))
    assert recall >= 0.9
