"""Issue 14.5: the Whoosh index directory removed while 8 clients search a real gunicorn.

Four gunicorn workers share one index directory. It is deleted under them: exactly one
process rebuilds it (the others wait on the file lock and use that one) and no search
answers 5xx. A corrupt index is found when it is opened and shown on /healthz.
"""

from __future__ import annotations

import collections
import json
import logging
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from supportdesk import create_app
from supportdesk.search import get_backend
from tests.faq.conftest import CONTENT, faq_world  # noqa: F401

CLIENTS = 8
QUERIES = ["log ind med mitid", "foraeldre", "billeder galleri", "skoleaarsskift", "kalender"]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def indexed(app, faq_world):  # noqa: F811
    result = app.test_cli_runner().invoke(args=["faq", "import", str(CONTENT)])
    assert result.exit_code == 0, result.output
    result = app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    return Path(app.config["SUPPORTDESK"].index_dir)


@pytest.mark.slow
def test_index_removed_while_8_clients_search_is_rebuilt_once_without_5xx(app, indexed, processes):
    base = processes.gunicorn(workers=4)
    gunicorn = processes.started[-1]
    urls = [f"{base}/api/v1/faq/search?" + urllib.parse.urlencode({"q": q}) for q in QUERIES]
    expected = {}
    for url in urls * 8:  # every worker has the index open
        status, body = _get(url)
        assert status == 200
        expected[url] = body["total"]

    statuses: collections.Counter[int] = collections.Counter()
    wrong: list[tuple[str, int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        i = n
        while not stop.is_set():
            url = urls[i % len(urls)]
            status, body = _get(url)
            i += 1
            with lock:
                statuses[status] += 1
                if status == 200 and body["total"] != expected[url]:
                    wrong.append((url, body["total"]))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    shutil.rmtree(indexed)
    time.sleep(6)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    health_status, health = _get(f"{base}/healthz")
    rebuilds = processes.log_of(gunicorn).count("rebuilt by process")
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    print(
        f"search: {sum(statuses.values())} searches by {CLIENTS} clients, {rebuilds} rebuild(s), "
        f"{server_errors} 5xx, {len(wrong)} incomplete, statuses {dict(statuses)}"
    )
    assert rebuilds == 1
    assert server_errors == 0
    assert set(statuses) == {200}
    assert wrong == []  # every answer as complete as before, also around the rebuild
    assert indexed.is_dir()
    assert health_status == 200
    assert health["search"] == "ok"


# Whoosh leaves the garbage TOC file open when it fails to read it.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_corrupt_index_is_found_when_opened_and_reported_on_healthz(app, client, indexed):
    backend = get_backend(app)
    segments = [p for p in indexed.iterdir() if p.suffix == ".seg"]
    assert segments, list(indexed.iterdir())
    for path in segments:
        # The table of contents and each segment's directory (at its end) are intact:
        # the index opens and counts its documents, but its stored text and terms are
        # garbage, which only a read of the whole index finds.
        data = bytearray(path.read_bytes())
        middle = slice(len(data) // 10, len(data) * 8 // 10)
        data[middle] = b"\xff" * (middle.stop - middle.start)
        path.write_bytes(bytes(data))
    backend._reset()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["search"] == "error"
    # the next search rebuilds it, and /healthz is green again
    assert client.get("/api/v1/faq/search?q=forældre").get_json()["total"] > 0
    assert client.get("/healthz").get_json()["search"] == "ok"


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_corrupt_index_is_reported_when_the_app_starts(app, indexed, caplog):
    for path in indexed.iterdir():
        if path.suffix == ".toc":
            path.write_bytes(b"garbage")
    with caplog.at_level(logging.ERROR, logger="supportdesk.search.storage"):
        create_app({"environ": app.config["TEST_ENVIRON"]})
    assert any("is corrupt" in r.getMessage() for r in caplog.records)
