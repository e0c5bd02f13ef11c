"""The control plane's resources: JSON documents in SQLite, with a copy in memory for reads.

Writes go to the database first and to memory only once the database has committed them
(SQLite in WAL mode with `synchronous=FULL`: a commit is on disk when it returns). A
`transaction()` is one SQLite transaction: every write inside it commits together or not at
all, so an operation that fails half-way (a full disk, a validation error after a write)
changes nothing, and nothing is acknowledged that a crash could take back. Side effects that
must follow a commit (starting an endpoint's work, taking a route down) are registered with
`after_commit` and run once it succeeded.

A row that cannot be read is moved to a `quarantine` table with a warning, and a database
file that is not one is renamed aside, so a damaged file costs what it held, not the start.
Keys are the resources' lower-cased names: SageMaker names are case-insensitive.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from smlocal.emulator.support.documents import problem

log = logging.getLogger(__name__)

Document = dict[str, Any]
_Pending = dict[tuple[str, str], "str | None"]  # (kind, key) -> JSON text, None = deleted


class Store:
    """Documents by (kind, key); thread-safe; persistent when given a path."""

    def __init__(self, path: Path | None = None) -> None:
        self.lock = threading.RLock()
        self._memory: dict[str, dict[str, Document]] = {}
        self._db: sqlite3.Connection | None = None
        self._depth = 0
        self._pending: _Pending = {}
        self._callbacks: list[Callable[[], None]] = []
        if path is not None:
            self._db = _open(path)
            self._load()

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Hold the store's lock across a read-check-write sequence, committed as one."""
        with self.lock:
            self._depth += 1
            try:
                yield self
            except BaseException:
                if self._depth == 1:
                    self._rollback()
                raise
            else:
                if self._depth == 1:
                    self._commit()
            finally:
                self._depth -= 1

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run callback once the current transaction has committed (now, outside one)."""
        with self.lock:
            if self._depth:
                self._callbacks.append(callback)
                return
        callback()

    def _commit(self) -> None:
        pending, self._pending = self._pending, {}
        callbacks, self._callbacks = self._callbacks, []
        if pending and self._db is not None:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for (kind, key), text in pending.items():
                    if text is None:
                        self._db.execute(
                            "DELETE FROM resources WHERE kind = ? AND key = ?", (kind, key)
                        )
                    else:
                        self._db.execute(
                            "INSERT OR REPLACE INTO resources (kind, key, doc) VALUES (?, ?, ?)",
                            (kind, key, text),
                        )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        for (kind, key), text in pending.items():
            if text is None:
                self._memory.get(kind, {}).pop(key, None)
            else:
                self._memory.setdefault(kind, {})[key] = json.loads(text)
        for callback in callbacks:
            callback()

    def _rollback(self) -> None:
        self._pending = {}
        self._callbacks = []

    # -- documents --------------------------------------------------------------------------

    def get(self, kind: str, key: str) -> Document | None:
        """A copy of the document, or None."""
        with self.lock:
            slot = (kind, key.lower())
            if slot in self._pending:
                text = self._pending[slot]
                return json.loads(text) if text is not None else None
            doc = self._memory.get(kind, {}).get(key.lower())
            return json.loads(json.dumps(doc)) if doc is not None else None

    def put(self, kind: str, key: str, doc: Document) -> None:
        """Insert or replace a document."""
        text = json.dumps(doc)
        with self.transaction():
            self._pending[(kind, key.lower())] = text

    def delete(self, kind: str, key: str) -> None:
        """Remove a document if it exists."""
        with self.transaction():
            self._pending[(kind, key.lower())] = None

    def all(self, kind: str) -> list[Document]:
        """Copies of every document of a kind, in insertion order."""
        with self.lock:
            docs = dict(self._memory.get(kind, {}))
            for (pending_kind, key), text in self._pending.items():
                if pending_kind != kind:
                    continue
                if text is None:
                    docs.pop(key, None)
                else:
                    docs[key] = json.loads(text)
            return json.loads(json.dumps(list(docs.values())))  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close the database."""
        with self.lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- loading ----------------------------------------------------------------------------

    def _load(self) -> None:
        assert self._db is not None
        broken: list[tuple[str, str, str, str]] = []
        for kind, key, text in self._db.execute("SELECT kind, key, doc FROM resources"):
            try:
                doc = json.loads(text)
                if not isinstance(doc, dict):
                    raise ValueError(f"a {type(doc).__name__}, not a JSON object")
                reason = problem(kind, key, doc)
                if reason is not None:
                    raise ValueError(reason)
            except ValueError as exc:
                broken.append((kind, key, text, str(exc)))
                continue
            self._memory.setdefault(kind, {})[key] = doc
        for kind, key, text, reason in broken:
            log.warning(
                "the stored %s %r cannot be read (%s); it is moved to the quarantine table of "
                "state.db and left out",
                kind, key, reason,
            )  # fmt: skip
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO quarantine (kind, key, doc, reason, at) VALUES (?, ?, ?, ?, ?)",
                (kind, key, text, reason, time.time()),
            )
            self._db.execute("DELETE FROM resources WHERE kind = ? AND key = ?", (kind, key))
            self._db.execute("COMMIT")


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS resources ("
    "kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, key))",
    "CREATE TABLE IF NOT EXISTS quarantine (kind TEXT, key TEXT, doc TEXT, reason TEXT, at REAL)",
)


def _open(path: Path) -> sqlite3.Connection:
    """The database at path (created private); a file that is not one is renamed aside."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    try:
        return _connect(path)
    except sqlite3.DatabaseError as exc:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                source.rename(Path(f"{aside}{suffix}"))
        log.error(
            "%s is not a readable SQLite database (%s); it was renamed to %s and smlocal starts "
            "with no models, endpoints or jobs",
            path, exc, aside,
        )  # fmt: skip
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        return _connect(path)


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        for statement in _SCHEMA:
            db.execute(statement)
        db.execute("SELECT count(*) FROM resources").fetchone()
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db
