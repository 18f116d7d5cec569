"""A parent, not signed in, finds the answer in the public FAQ."""

from __future__ import annotations

from sqlalchemy import select

from supportdesk.faq.models import Article, Audience
from tests.browser.helpers import axe_check, follow


def test_parent_searches_the_public_faq(page, data):
    page.goto("/")
    follow(page, page.get_by_role("navigation", name="Hovedmenu").locator("a[href='/faq']").click)
    axe_check(page, "faq-index-anonymous")

    # ascii spelling of æ/å, as a parent on a phone might type it
    search = page.get_by_role("searchbox").first
    search.fill("foraeldre logge paa aula")
    search.press("Enter")
    page.wait_for_url("**/faq/search?**")
    axe_check(page, "faq-search-anonymous")
    results = page.locator("ol.search-results > li h2 a")
    assert results.count() >= 1, page.locator("main").inner_text()
    titles = results.all_inner_texts()
    assert any("logger du på Aula som forælder" in t for t in titles), titles

    # only public articles reach an anonymous visitor
    hrefs = results.evaluate_all("links => links.map(a => new URL(a.href).pathname)")
    slugs = [href.removeprefix("/faq/").split("?")[0] for href in hrefs]
    with data() as session:
        audiences = session.scalars(select(Article.audience).where(Article.slug.in_(slugs))).all()
    assert len(audiences) == len(slugs)
    assert set(audiences) == {Audience.public}

    follow(page, results.filter(has_text="som forælder").first.click)
    assert page.get_by_role("heading", level=1).inner_text().startswith("Sådan logger du på Aula")
    axe_check(page, "faq-article-anonymous")
