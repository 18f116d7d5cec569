"""gunicorn settings for supportdesk: `gunicorn -c gunicorn.conf.py wsgi:app`.

The worker timeout (30 s) is three times the database busy timeout
(SUPPORTDESK_DB_BUSY_TIMEOUT, default 10 s): a request that waits for a lock answers
503 with Retry-After long before gunicorn would kill the worker and drop the
connection. Override with GUNICORN_BIND, GUNICORN_WORKERS and GUNICORN_TIMEOUT.

Each worker freezes what loading the app created (`post_worker_init`): the models,
the templates, the catalogues and the search schema live as long as the worker, and
the garbage collector then no longer walks them on every collection a request
triggers (0.21 → 0.05 ms a cached ticket page, bench/RESULTS.md). The app is loaded
in each worker (no `preload_app`): with it, the collection here would touch every object
the worker shares with the master and copy its memory; freeze in the master instead.
"""

import gc
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8)))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "warning")


def post_worker_init(worker):
    """The app is loaded: keep its objects out of every later collection."""
    gc.collect()
    gc.freeze()
