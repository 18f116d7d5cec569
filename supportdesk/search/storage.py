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

`SegmentReaders` opens each index generation from the readers of the last one: a
segment's files never change once written, only its set of deleted documents (kept in
the table of contents), so an edit opens only its new one-document segment instead of
copying the 20,000-article segment's terms and postings into memory again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock
from whoosh import index
from whoosh.reading import EmptyReader, IndexReader, MultiReader, SegmentReader

log = logging.getLogger(__name__)

# A rebuild of the FAQ index takes seconds; a process waits this long for another's.
LOCK_TIMEOUT = 120
# Reading the table of contents while a writer replaces it can fail for a moment
# (Whoosh's own `Index.reader` retries the same way).
TOC_ATTEMPTS = 10


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


class SegmentReaders:
    """Segment readers kept across the generations of one index directory.

    Not Whoosh's `Searcher.refresh()`: it keeps the reused readers' old segment objects,
    whose deletion sets are stale (a removed article would still be found), and adds
    back segments merged away. Here each reused reader gets the segment as the new
    table of contents describes it, deletions included; readers of segments gone are
    closed. One process's threads share it under the backend's lock.
    """

    def __init__(self) -> None:
        self.readers: dict[str, SegmentReader] = {}

    def open(self, ix) -> IndexReader:
        """A reader of the latest generation (always a `MultiReader`, or empty)."""
        toc = _read_toc(ix)
        kept: dict[str, SegmentReader] = {}
        for segment in toc.segments:
            segid = segment.segment_id()
            reader = self.readers.pop(segid, None)
            if reader is None:
                reader = SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation)
            else:
                _with_segment(reader, segment, toc.generation)
            kept[segid] = reader
        self.close()
        self.readers = kept
        if not kept:
            return EmptyReader(toc.schema)
        return MultiReader(list(kept.values()), generation=toc.generation)

    def close(self) -> None:
        for reader in self.readers.values():
            if not reader.is_closed:
                reader.close()
        self.readers = {}


def _read_toc(ix):
    for attempt in range(TOC_ATTEMPTS):
        try:
            return index.TOC.read(ix.storage, ix.indexname)
        except OSError:
            if attempt == TOC_ATTEMPTS - 1:
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")


def _with_segment(reader: SegmentReader, segment, generation: int) -> None:
    """Point a kept reader at its segment as the newest table of contents has it.

    Whoosh keeps a segment's deleted documents on the segment object (read from the
    table of contents), and the reader and its per-document reader ask that object.
    """
    reader._segment = segment
    reader._perdoc._segment = segment
    reader._gen = generation
    reader.__dict__.pop("deleted_docs_set", None)  # a cached property of the old set
