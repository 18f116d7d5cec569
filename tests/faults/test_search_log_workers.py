"""The search log written behind, through real gunicorn processes.

Each worker holds the searches it logged (supportdesk/faq/search_log.py). Two servers of
one worker each share the database: searches go to both, and every click goes to the
server that did not run its search, so the click reaches a worker that does not hold
the row. Stopped the way a deploy stops them (SIGTERM: a graceful stop), they write
what they held: every search's row is there under the id its result link carried, and
every click landed.
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

SEARCHES = 10  # on each server


def test_a_graceful_stop_writes_both_workers_searches_and_the_clicks_across_them(
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
    quiet = {"SUPPORTDESK_SEARCH_LOG_FLUSH_SECONDS": "30"}  # nothing written before the stop
    servers = [processes.gunicorn(workers=1, extra_env=quiet) for _ in range(2)]
    links: dict[str, list[str]] = {server: [] for server in servers}
    for _ in range(SEARCHES):
        for server in servers:
            url = f"{server}/api/v1/faq/search?q=printeren"
            status, answer = call_json(url, "GET", token, None)
            assert status == 200, answer
            links[server].append(answer["results"][0]["url"])
    ids = [int(link.rsplit("?s=", 1)[1]) for found in links.values() for link in found]
    assert len(set(ids)) == 2 * SEARCHES  # the two processes took different blocks
    clicked = []
    first, second = servers
    for server, other in ((first, second), (second, first)):
        for link in links[server][::3]:  # the article page, as anyone may read it
            with urllib.request.urlopen(other + link, timeout=60) as page:  # noqa: S310
                assert page.status == 200
            clicked.append(int(link.rsplit("?s=", 1)[1]))
    for proc in processes.started:
        proc.send_signal(signal.SIGTERM)  # both at once, as a deploy stops a machine
    for proc in processes.started:
        assert proc.wait(timeout=60) == 0, processes.log_of(proc)[-2000:]

    db.session.rollback()
    logged = dict(db.session.execute(select(SearchLog.id, SearchLog.clicked)).all())
    assert sorted(logged) == sorted(ids)
    assert sorted(i for i, was in logged.items() if was) == sorted(clicked)
