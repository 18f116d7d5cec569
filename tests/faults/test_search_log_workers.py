"""The search log written behind, through a real gunicorn with two workers.

Each worker holds the searches it logged (supportdesk/faq/search_log.py). Stopped the
way a deploy stops them (SIGTERM to gunicorn: a graceful stop), they write what they
held: every search's row is there under the id its result link carried, and a click
that reached the other worker before the row was written was not lost.
"""

from __future__ import annotations

import signal
import urllib.request

from sqlalchemy import select

from supportdesk.accounts import services as account_services
from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.faq.models import SearchLog
from supportdesk.search import get_backend
from tests.faq.conftest import write_article
from tests.live_http import call_json

SEARCHES = 20


def test_a_graceful_stop_writes_every_workers_searches_and_clicks(
    app, make_system, make_user, processes, tmp_path
):
    make_system("aula", categories=("login",))
    get_backend(app).rebuild([])
    write_article(
        tmp_path, "aula", "printer", title="Printeren driller", body="Printeren.", audience="public"
    )
    assert app.test_cli_runner().invoke(args=["faq", "import", str(tmp_path)]).exit_code == 0
    user = make_user(Role.superuser, municipality="esbjerg")
    _record, token = account_services.create_token(user, "searches")
    db.session.commit()
    base = processes.gunicorn(workers=2, extra_env={"SUPPORTDESK_SEARCH_LOG_FLUSH_SECONDS": "3600"})
    links = []
    for _ in range(SEARCHES):
        status, answer = call_json(f"{base}/api/v1/faq/search?q=printeren", "GET", token, None)
        assert status == 200, answer
        links.append(answer["results"][0]["url"])
    ids = [int(link.rsplit("?s=", 1)[1]) for link in links]
    assert len(set(ids)) == SEARCHES
    clicked = ids[::3]
    for link in links[::3]:  # the article page, as anyone may read a public article
        with urllib.request.urlopen(base + link, timeout=60) as page:  # noqa: S310
            assert page.status == 200
    gunicorn = processes.started[-1]
    gunicorn.send_signal(signal.SIGTERM)
    assert gunicorn.wait(timeout=60) == 0, processes.log_of(gunicorn)[-2000:]

    db.session.rollback()
    logged = dict(db.session.execute(select(SearchLog.id, SearchLog.clicked)).all())
    assert sorted(logged) == sorted(ids)
    assert sorted(i for i, was in logged.items() if was) == sorted(clicked)
