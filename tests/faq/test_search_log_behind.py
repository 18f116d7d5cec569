"""The search log written behind: a worker keeps its searches and writes them together.

The search page and the API link each result to their search's row (`?s=<id>`) before
that row is written; these tests hold the rows, the ids, the clicks and the writes to
what `supportdesk/faq/search_log.py` promises, on both databases.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, insert, select

from supportdesk.accounts.models import Role
from supportdesk.config import ConfigError, load_settings
from supportdesk.extensions import utcnow
from supportdesk.faq import search_log
from supportdesk.faq.models import SearchLog
from tests.faq.conftest import write_article
from tests.signin import sign_in_client


def _reader(app, db, faq_world, tmp_path, make_user):
    write_article(tmp_path, "aula", "printer", title="Printeren driller", body="Printeren.")
    assert app.test_cli_runner().invoke(args=["faq", "import", str(tmp_path)]).exit_code == 0
    client = app.test_client()
    sign_in_client(
        client, make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"])
    )
    return client


def _linked_id(client, q: str = "printeren") -> int:
    page = client.get(f"/faq/search?q={q}").get_data(as_text=True)
    found = re.search(r'/faq/printer\?s=(\d+)"', page)
    assert found, page
    return int(found.group(1))


def _logged(db) -> dict[int, tuple[str, bool]]:
    db.session.rollback()
    rows = db.session.execute(select(SearchLog.id, SearchLog.query, SearchLog.clicked))
    return {row.id: (row.query, row.clicked) for row in rows}


def _values(query: str) -> dict:
    return {
        "query": query,
        "result_count": 1,
        "system_slug": None,
        "source": "page",
        "clicked": False,
        "created_at": utcnow(),
    }


def _refuse_batches(monkeypatch) -> None:
    """The database refuses every batch of rows (one row at a time still goes)."""
    real = search_log.execute_apart

    def _refused(statement, params):
        if isinstance(params, list):
            raise RuntimeError("disk I/O error")
        return real(statement, params)

    monkeypatch.setattr(search_log, "execute_apart", _refused)


def test_searches_wait_in_the_worker_and_are_written_together_under_their_links(
    app, db, faq_world, tmp_path, make_user
):
    reader = _reader(app, db, faq_world, tmp_path, make_user)
    ids = [_linked_id(reader) for _ in range(3)]
    api = reader.get("/api/v1/faq/search?q=printer").get_json()["results"][0]["url"]
    ids.append(int(api.rsplit("?s=", 1)[1]))
    assert len(set(ids)) == 4
    assert _logged(db) == {}  # no search wrote a row of its own
    search_log.flush()
    logged = _logged(db)
    assert logged == {
        ids[0]: ("printeren", False),
        ids[1]: ("printeren", False),
        ids[2]: ("printeren", False),
        ids[3]: ("printer", False),
    }


def test_a_full_buffer_is_written_by_the_search_that_filled_it(
    app, db, faq_world, tmp_path, make_user
):
    reader = _reader(app, db, faq_world, tmp_path, make_user)
    ids = [_linked_id(reader) for _ in range(search_log.FLUSH_ROWS)]
    assert sorted(_logged(db)) == sorted(ids)
    _linked_id(reader)
    assert len(_logged(db)) == search_log.FLUSH_ROWS  # the next one waits again


def test_a_click_marks_the_row_whether_it_waits_or_is_written(
    app, db, faq_world, tmp_path, make_user
):
    reader = _reader(app, db, faq_world, tmp_path, make_user)
    waiting, written, unclicked = (_linked_id(reader) for _ in range(3))
    assert reader.get(f"/faq/printer?s={waiting}").status_code == 200
    search_log.flush()
    assert reader.get(f"/faq/printer?s={written}").status_code == 200
    assert _logged(db) == {
        waiting: ("printeren", True),
        written: ("printeren", True),
        unclicked: ("printeren", False),
    }


def test_a_click_on_another_workers_waiting_row_lands_once_that_row_is_written(app, db):
    """Two workers: the click reaches the one that does not hold the row."""
    holder, other = search_log.SearchLogBuffer(app, 3600), search_log.SearchLogBuffer(app, 3600)
    log_id = holder.add(_values("printeren"))
    other.click(log_id)  # not written yet: the click waits in the other worker
    assert _logged(db) == {}
    holder.flush()
    assert _logged(db) == {log_id: ("printeren", False)}
    other.flush()  # its next write tries the click again
    assert _logged(db) == {log_id: ("printeren", True)}


def test_workers_never_hand_out_an_id_twice_nor_one_a_row_written_apart_takes(app, db):
    """Each worker takes ids in blocks from the table's own sequence; a row inserted
    without an id (by anything else) is numbered past every block handed out."""
    first, second = search_log.SearchLogBuffer(app, 3600), search_log.SearchLogBuffer(app, 3600)
    ids = [first.add(_values("a")), second.add(_values("b")), first.add(_values("c"))]
    with db.engine.begin() as conn:
        apart = conn.execute(
            insert(SearchLog.__table__).values(**_values("apart")).returning(SearchLog.id)
        ).scalar_one()
    ids += [second.add(_values("d")), first.add(_values("e"))]
    assert len(set([*ids, apart])) == 6
    first.flush()
    second.flush()
    logged = _logged(db)
    assert sorted(logged) == sorted([*ids, apart])
    assert {logged[i][0] for i in ids} == {"a", "b", "c", "d", "e"}


def test_a_quiet_worker_writes_what_it_holds_after_the_interval(app, db):
    buffer = search_log.SearchLogBuffer(app, 1)
    log_id = buffer.add(_values("printeren"))
    deadline = time.monotonic() + 30  # a deadline to give up, not a time asserted
    while log_id not in _logged(db) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _logged(db) == {log_id: ("printeren", False)}


_EXITING_WORKER = """
import json, sys
from supportdesk import create_app
from supportdesk.extensions import utcnow
from supportdesk.faq import search_log
app = create_app({"environ": json.loads(sys.argv[1])})
with app.app_context():
    ids = [
        search_log.add({"query": f"q{n}", "result_count": 0, "system_slug": None,
                        "source": "page", "clicked": False, "created_at": utcnow()})
        for n in range(3)
    ]
print(json.dumps(ids))
"""


def test_a_worker_that_exits_writes_what_it_held(app, db):
    environ = {**app.config["TEST_ENVIRON"], "SUPPORTDESK_SEARCH_LOG_FLUSH_SECONDS": "30"}
    done = subprocess.run(
        [sys.executable, "-c", _EXITING_WORKER, json.dumps(environ)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ids = json.loads(done.stdout.strip().splitlines()[-1])
    assert _logged(db) == {ids[0]: ("q0", False), ids[1]: ("q1", False), ids[2]: ("q2", False)}


def test_a_write_that_fails_drops_its_rows_and_fails_no_page(
    app, db, faq_world, tmp_path, make_user, monkeypatch, caplog
):
    reader = _reader(app, db, faq_world, tmp_path, make_user)
    _linked_id(reader)
    _refuse_batches(monkeypatch)
    search_log.flush()
    assert "1 searches not logged" in caplog.text
    monkeypatch.undo()
    _linked_id(reader)
    search_log.flush()
    assert [query for query, _ in _logged(db).values()] == ["printeren"]
    assert db.session.scalar(select(func.count(SearchLog.id))) == 1


def test_a_search_with_an_overlong_system_sinks_no_one_elses_row(
    app, db, faq_world, tmp_path, make_user
):
    """The system filter is the caller's text; on PostgreSQL a value past the column's
    60 characters failed the whole batch, and every other search in it was lost."""
    reader = _reader(app, db, faq_world, tmp_path, make_user)
    ids = [_linked_id(reader) for _ in range(3)]
    assert reader.get("/faq/search?q=printeren&system=" + "x" * 70).status_code == 200
    search_log.flush()
    logged = _logged(db)
    assert set(ids) < set(logged)
    assert len(logged) == 4


def test_a_full_buffer_that_cannot_be_written_fails_no_search(
    app, db, faq_world, tmp_path, make_user, monkeypatch, caplog
):
    reader = _reader(app, db, faq_world, tmp_path, make_user)
    _refuse_batches(monkeypatch)
    for _ in range(search_log.FLUSH_ROWS):
        _linked_id(reader)  # the last one writes the buffer, which fails: the page answers
    assert f"{search_log.FLUSH_ROWS} searches not logged" in caplog.text
    assert _logged(db) == {}


def test_the_exit_waits_for_a_write_the_timer_has_begun(app, db, monkeypatch):
    """The timer takes the rows out of the buffer, then writes them; an exit in between
    found the buffer empty and the daemon timer died with the process: rows lost."""
    buffer = search_log.SearchLogBuffer(app, 3600)
    log_id = buffer.add(_values("printeren"))
    real = search_log.execute_apart
    writing = threading.Event()

    def _slow(statement, params):
        if isinstance(params, list):
            writing.set()
            time.sleep(0.5)
        return real(statement, params)

    monkeypatch.setattr(search_log, "execute_apart", _slow)
    timer = threading.Thread(target=buffer.flush_in_app)
    timer.start()
    assert writing.wait(30)
    search_log.flush_all(wait_for_clicks=0)  # as at the process's exit
    assert _logged(db) == {log_id: ("printeren", False)}
    timer.join()


def test_a_timer_that_cannot_start_leaves_the_next_one_free(app, db, monkeypatch):
    """A timer that failed to start (Python 3.12 refuses threads at exit) was kept as the
    running one: no timer ever started again, and rows waited for the 50th."""
    buffer = search_log.SearchLogBuffer(app, 1)

    def _refused(_self):
        raise RuntimeError("can't create new thread at interpreter shutdown")

    monkeypatch.setattr(search_log.threading.Timer, "start", _refused)
    first = buffer.add(_values("first"))  # no timer, and no error either
    monkeypatch.undo()
    second = buffer.add(_values("second"))
    deadline = time.monotonic() + 30  # a deadline to give up, not a time asserted
    while second not in _logged(db) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _logged(db) == {first: ("first", False), second: ("second", False)}


def test_a_click_on_an_id_never_handed_out_does_not_wait(app, db):
    """Only an id the sequence handed out may be a row another worker holds; a made-up
    one waited too, and would have marked a later search as clicked."""
    holder, other = search_log.SearchLogBuffer(app, 3600), search_log.SearchLogBuffer(app, 3600)
    held = holder.add(_values("printeren"))
    other.click(held)
    other.click(held + 10 * search_log.ID_BLOCK)
    assert other.waiting_clicks() == 1
    holder.flush()
    other.flush()
    assert _logged(db) == {held: ("printeren", True)}


def test_the_interval_must_leave_a_click_time_to_land(tmp_path):
    for bad in ("0", "31"):
        with pytest.raises(ConfigError, match="SEARCH_LOG_FLUSH_SECONDS"):
            load_settings({"SUPPORTDESK_SEARCH_LOG_FLUSH_SECONDS": bad}, instance=tmp_path)
    assert load_settings({}, instance=tmp_path).search_log_flush_seconds == 2
