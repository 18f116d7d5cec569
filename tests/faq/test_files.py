"""faq import / export: upsert by slug, per-file report, round trip, bad files skipped."""

from __future__ import annotations

import shutil

from sqlalchemy import func, select

from supportdesk.faq.models import Article, ArticleVersion
from tests.faq.conftest import CONTENT, write_article


def _snapshot(db):
    rows = db.session.scalars(select(Article).order_by(Article.slug)).all()
    return [
        (
            a.slug,
            a.title,
            a.body,
            a.tags,
            a.audience,
            a.municipality_id,
            a.updated,
            a.state,
            sorted(r.slug for r in a.related),
        )
        for a in rows
    ]


def test_import_export_import_changes_nothing(app, db, faq_world, tmp_path):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["faq", "import", str(CONTENT)])
    assert first.exit_code == 0, first.output
    assert " 0 with errors" in first.output
    before = _snapshot(db)
    versions = db.session.scalar(select(func.count(ArticleVersion.id)))
    assert len(before) >= 40

    out = tmp_path / "export"
    exported = runner.invoke(args=["faq", "export", str(out)])
    assert exported.exit_code == 0, exported.output
    again = runner.invoke(args=["faq", "import", str(out)])
    assert again.exit_code == 0, again.output
    assert f"0 created, 0 updated, {len(before)} unchanged" in again.output
    db.session.expire_all()
    assert _snapshot(db) == before
    assert db.session.scalar(select(func.count(ArticleVersion.id))) == versions
    # the exported files are themselves stable
    second = tmp_path / "export2"
    runner.invoke(args=["faq", "export", str(second)])
    for path in out.rglob("*.md"):
        assert path.read_text() == (second / path.relative_to(out)).read_text()


def test_malformed_file_is_reported_and_the_good_ones_import(app, db, faq_world, tmp_path):
    write_article(tmp_path, "aula", "god-artikel", title="God artikel", body="Virker fint.")
    write_article(tmp_path, "aula", "ukendt-kategori", category="findes-ikke")
    write_article(tmp_path, "aula", "kommunal-uden-kommune", audience="municipal")
    (tmp_path / "aula" / "ødelagt-yaml.md").write_text("---\ntitle: [oops\n---\nx\n")
    (tmp_path / "aula" / "ingen-front.md").write_text("Bare tekst\n")
    result = app.test_cli_runner().invoke(args=["faq", "import", str(tmp_path)])
    assert result.exit_code == 1
    assert "ukendt-kategori.md: unknown category 'findes-ikke'" in result.output
    assert "kommunal-uden-kommune.md: a municipal article needs 'municipality'" in result.output
    assert "ingen-front.md: missing front matter" in result.output
    assert "ødelagt-yaml.md" in result.output
    assert "1 created" in result.output
    assert db.session.scalars(select(Article.slug)).all() == ["god-artikel"]


def test_reimport_of_a_changed_file_updates_and_keeps_a_version(app, db, faq_world, tmp_path):
    path = write_article(tmp_path, "aula", "en-artikel", title="Første titel")
    runner = app.test_cli_runner()
    runner.invoke(args=["faq", "import", str(tmp_path)])
    path.write_text(path.read_text().replace("Første titel", "Anden titel"))
    result = runner.invoke(args=["faq", "import", str(tmp_path)])
    assert "1 updated" in result.output
    article = db.session.scalar(select(Article).where(Article.slug == "en-artikel"))
    assert [v.title for v in article.versions] == ["Første titel", "Anden titel"]


def test_imported_articles_are_searchable_at_once(app, client, search_backend, faq_world, tmp_path):
    shutil.copytree(CONTENT / "aula", tmp_path / "aula")
    app.test_cli_runner().invoke(args=["faq", "import", str(tmp_path)])
    answer = client.get("/api/v1/faq/search?q=forældre").get_json()
    assert answer["total"] > 0
