"""The control plane's resources: JSON documents in memory, written through to SQLite.

Every change is committed before the call returns, so the emulator can be stopped at any
moment (even killed) and come back with the same models, configs, endpoints and jobs.
Keys are the resources' lower-cased names: SageMaker names are case-insensitive.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Document = dict[str, Any]


class Store:
    """Documents by (kind, key); thread-safe; persistent when given a path."""

    def __init__(self, path: Path | None = None) -> None:
        self.lock = threading.RLock()
        self._memory: dict[str, dict[str, Document]] = {}
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS resources ("
                "kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, "
                "PRIMARY KEY (kind, key))"
            )
            for kind, key, doc in self._db.execute("SELECT kind, key, doc FROM resources"):
                self._memory.setdefault(kind, {})[key] = json.loads(doc)

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Hold the store's lock across a read-check-write sequence."""
        with self.lock:
            yield self

    def get(self, kind: str, key: str) -> Document | None:
        """A copy of the document, or None."""
        with self.lock:
            doc = self._memory.get(kind, {}).get(key.lower())
            return json.loads(json.dumps(doc)) if doc is not None else None

    def put(self, kind: str, key: str, doc: Document) -> None:
        """Insert or replace a document."""
        text = json.dumps(doc)
        with self.lock:
            self._memory.setdefault(kind, {})[key.lower()] = json.loads(text)
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO resources (kind, key, doc) VALUES (?, ?, ?)",
                    (kind, key.lower(), text),
                )

    def delete(self, kind: str, key: str) -> None:
        """Remove a document if it exists."""
        with self.lock:
            self._memory.get(kind, {}).pop(key.lower(), None)
            if self._db is not None:
                self._db.execute(
                    "DELETE FROM resources WHERE kind = ? AND key = ?", (kind, key.lower())
                )

    def all(self, kind: str) -> list[Document]:
        """Copies of every document of a kind, in insertion order."""
        with self.lock:
            docs = list(self._memory.get(kind, {}).values())
            return json.loads(json.dumps(docs))  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close the database."""
        with self.lock:
            if self._db is not None:
                self._db.close()
                self._db = None
