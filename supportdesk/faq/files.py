"""faq_content/<system>/<slug>.md ⇄ database: import upserts by slug, export writes back.

Import → export → import changes nothing: export writes exactly the fields that
import reads, and import only makes a new version when something differs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import yaml
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from supportdesk.accounts.models import Municipality, System
from supportdesk.extensions import db, utcnow
from supportdesk.faq.models import Article, ArticleState, Audience
from supportdesk.faq.services import (
    SLUG_RE,
    ArticleData,
    _apply,
    _category,
    _enqueue,
    _snapshot,
    clean_tags,
    published_articles,
    set_related,
)

REQUIRED = ("title", "system", "category", "audience", "updated")
KNOWN_KEYS = {*REQUIRED, "tags", "municipality", "related"}


@dataclass
class FileResult:
    path: str
    status: str  # created | updated | unchanged | error
    message: str = ""


@dataclass
class ImportReport:
    results: list[FileResult] = field(default_factory=list)
    changed_slugs: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def ok(self) -> bool:
        return self.count("error") == 0


@dataclass
class Parsed:
    slug: str
    data: ArticleData
    related: list[str]


class FileProblem(ValueError):
    """A file that cannot be imported; the message says why."""


def _as_list(value, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    raise FileProblem(f"'{key}' must be a list of words")


def parse_file(path: Path, systems: dict[str, System], municipalities: dict[str, int]) -> Parsed:
    slug = path.stem
    if not SLUG_RE.match(slug):
        raise FileProblem("file name must be a slug (a-z, 0-9 and hyphens)")
    try:
        post = frontmatter.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise FileProblem("file is not UTF-8 text") from None
    except yaml.YAMLError as error:
        raise FileProblem(f"front matter is not valid YAML: {error}".splitlines()[0]) from None
    meta = post.metadata
    if not meta:
        raise FileProblem("missing front matter (--- title: … ---)")
    missing = [k for k in REQUIRED if meta.get(k) in (None, "")]
    if missing:
        raise FileProblem("missing " + ", ".join(missing))
    unknown = sorted(set(meta) - KNOWN_KEYS)
    if unknown:
        raise FileProblem("unknown field(s) " + ", ".join(unknown))
    system = systems.get(str(meta["system"]))
    if system is None:
        raise FileProblem(f"unknown system {meta['system']!r}")
    if path.parent.name in systems and path.parent.name != system.slug:
        raise FileProblem(f"system {system.slug!r} does not match folder {path.parent.name!r}")
    if _category(system, str(meta["category"])) is None:
        raise FileProblem(f"unknown category {meta['category']!r} for system {system.slug!r}")
    try:
        audience = Audience(str(meta["audience"]))
    except ValueError:
        raise FileProblem(
            f"audience must be one of {', '.join(a.value for a in Audience)}"
        ) from None
    municipality_id = None
    if audience == Audience.municipal:
        if not meta.get("municipality"):
            raise FileProblem("a municipal article needs 'municipality'")
        municipality_id = municipalities.get(str(meta["municipality"]))
        if municipality_id is None:
            raise FileProblem(f"unknown municipality {meta['municipality']!r}")
    elif meta.get("municipality"):
        raise FileProblem("'municipality' is only allowed when audience is municipal")
    updated = meta["updated"]
    if isinstance(updated, str):
        try:
            updated = dt.date.fromisoformat(updated)
        except ValueError:
            raise FileProblem("'updated' must be a date like 2026-10-01") from None
    if isinstance(updated, dt.datetime):
        updated = updated.date()
    if not isinstance(updated, dt.date):
        raise FileProblem("'updated' must be a date like 2026-10-01")
    title = str(meta["title"]).strip()
    if len(title) > 200:
        raise FileProblem("title is longer than 200 characters")
    body = post.content.strip()
    if not body:
        raise FileProblem("the article has no text")
    return Parsed(
        slug=slug,
        data=ArticleData(
            title=title,
            body=body,
            system=system,
            category_slug=str(meta["category"]),
            audience=audience,
            tags=clean_tags(_as_list(meta.get("tags"), "tags")),
            municipality_id=municipality_id,
            updated=updated,
        ),
        related=_as_list(meta.get("related"), "related"),
    )


def _same(article: Article, data: ArticleData) -> bool:
    return (
        article.state == ArticleState.published
        and article.title == data.title
        and article.body == data.body
        and article.system_id == data.system.id
        and article.category.slug == data.category_slug
        and list(article.tags or []) == data.tags
        and article.audience == data.audience
        and article.municipality_id == data.municipality_id
        and article.updated == data.updated
    )


def import_path(root: Path | str) -> ImportReport:
    """Upsert every <system>/<slug>.md under root; bad files are reported and skipped."""
    root = Path(root)
    report = ImportReport()
    systems = {
        s.slug: s
        for s in db.session.scalars(select(System).options(selectinload(System.categories)))
    }
    municipalities = dict(db.session.execute(select(Municipality.slug, Municipality.id)).all())
    files = sorted(root.glob("*/*.md")) if root.is_dir() else [root]
    parsed: list[tuple[Path, Parsed]] = []
    seen: dict[str, Path] = {}
    for path in files:
        name = str(path.relative_to(root)) if root.is_dir() else path.name
        try:
            item = parse_file(path, systems, municipalities)
            if item.slug in seen:
                raise FileProblem(f"slug also used by {seen[item.slug].relative_to(root)}")
        except (FileProblem, OSError) as problem:
            report.results.append(FileResult(name, "error", str(problem)))
            continue
        seen[item.slug] = path
        parsed.append((path, item))
    existing = {
        a.slug: a
        for a in db.session.scalars(
            select(Article)
            .where(Article.slug.in_([p.slug for _path, p in parsed]))
            .options(
                selectinload(Article.category),
                selectinload(Article.versions),
                selectinload(Article.related),
            )
        )
    }
    articles: dict[str, tuple[str, Article, Parsed]] = {}
    for path, item in parsed:
        name = str(path.relative_to(root)) if root.is_dir() else path.name
        article = existing.get(item.slug)
        if article is None:
            article = Article(slug=item.slug, state=ArticleState.published, published_at=utcnow())
            db.session.add(article)
            status = "created"
        elif _same(article, item.data):
            status = "unchanged"
        else:
            status = "updated"
        if status != "unchanged":
            _apply(article, item.data, _category(item.data.system, item.data.category_slug))
            if article.state != ArticleState.published:
                article.state = ArticleState.published
                article.published_at = utcnow()
            _snapshot(article, None, "import")
        articles[item.slug] = (name, article, item)
        report.results.append(FileResult(name, status))
    db.session.flush()
    by_name = {r.path: r for r in report.results}
    for slug, (name, article, item) in articles.items():
        current = sorted(a.slug for a in article.related)
        if current != sorted(set(item.related) - {slug}):
            missing = set_related(article, item.related)
            if by_name[name].status == "unchanged":
                by_name[name].status = "updated"
            if missing:
                by_name[name].message = "unknown related: " + ", ".join(sorted(missing))
        if by_name[name].status != "unchanged":
            _enqueue(article)
            report.changed_slugs.append(slug)
    return report


def render_file(article: Article) -> str:
    meta: dict[str, object] = {
        "title": article.title,
        "system": article.system.slug,
        "category": article.category.slug,
        "tags": list(article.tags or []),
        "audience": article.audience.value,
    }
    if article.audience == Audience.municipal and article.municipality is not None:
        meta["municipality"] = article.municipality.slug
    meta["updated"] = article.updated
    related = sorted(a.slug for a in article.related)
    if related:
        meta["related"] = related
    header = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{header}---\n{article.body.strip()}\n"


def export_path(root: Path | str) -> int:
    """Write every published article to root/<system>/<slug>.md; returns the count."""
    root = Path(root)
    articles = published_articles(with_related=True)
    for article in articles:
        target = root / article.system.slug / f"{article.slug}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_file(article), encoding="utf-8")
    return len(articles)
