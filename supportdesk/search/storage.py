"""The Whoosh index directory shared by every process on the machine.

Each gunicorn worker and the outbox worker has its own WhooshBackend; a threading lock
only orders one process's threads. When the index directory disappears or breaks,
every process noticed it and rebuilt it through the same `index.new` directory at
once (FileNotFoundError, 503s). Here the rebuild happens under a file lock
(`filelock`) beside the index, which holds across processes, and a process that
waited for it first looks again: when another one has just rebuilt the index, it
uses that one. So one rebuild, however many processes saw the index go.

`open_checked` reads the whole index when it is opened (the table of contents, every
segment's stored fields and terms), so a corrupt index is found then, at start
(`check_at_start`) and by /healthz, and not only by the next write.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock
from whoosh import index

log = logging.getLogger(__name__)

# A rebuild of the FAQ index takes seconds; a process waits this long for another's.
LOCK_TIMEOUT = 120


class IndexStorage:
    def __init__(self, path: Path, is_current: Callable[[object], bool] | None = None) -> None:
        self.path = path
        # An index written in an older form (its schema) counts as missing: rebuilt.
        self.is_current = is_current
        self._file_lock: FileLock | None = None

    def lock(self) -> FileLock:
        """The cross-process lock (a file beside the index, which survives its removal)."""
        if self._file_lock is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock_path = self.path.with_name(self.path.name + ".lock")
            self._file_lock = FileLock(str(lock_path), timeout=LOCK_TIMEOUT)
        return self._file_lock

    def open_checked(self):
        """Open the index and read all of it once; raise if it is missing or corrupt."""
        if not index.exists_in(str(self.path)):
            raise index.EmptyIndexError(f"no index in {self.path}")
        ix = index.open_dir(str(self.path))
        if self.is_current is not None and not self.is_current(ix.schema):
            ix.close()
            raise index.EmptyIndexError(f"index in {self.path} has an older schema")
        try:
            with ix.reader() as reader:
                reader.doc_count()
                for _fields in reader.all_stored_fields():
                    pass
                for _term in reader.all_terms():
                    pass
        except Exception:
            ix.close()
            raise
        return ix

    def usable(self) -> bool:
        try:
            self.open_checked().close()
        except Exception:
            return False
        return True

    def rebuild_once(self, rebuild: Callable[[], object]) -> bool:
        """Rebuild unless another process did it while this one waited; True if rebuilt."""
        with self.lock():
            if self.usable():
                log.info("search index at %s was rebuilt by another process", self.path)
                return False
            rebuild()
        log.warning("search index at %s rebuilt by process %s", self.path, os.getpid())
        return True

    def check_at_start(self) -> None:
        """Log a corrupt index when the app starts (/healthz reports it until rebuilt)."""
        present = self.path.is_dir() and any(self.path.glob("*.toc"))
        if present and not self.usable():
            log.error(
                "search index at %s is corrupt; the next search rebuilds it, and /healthz "
                "reports search: error until then",
                self.path,
            )
