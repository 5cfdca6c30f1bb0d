"""The ledger of processed files: a sqlite3 database in the output folder that makes re-runs incremental.

One row per file (per page of a multi-page file): its relative path (raw bytes, so names that are not UTF-8 stay distinct), the
size, mtime and sha256 of the version that was decoded, the model that read it, and the result:
the table of its candidate digits with their probabilities (reading.CANDIDATE), from which any
`--digits` reading is made without decoding again. A file is decoded again only when its size,
mtime or content changes, or the model does.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from batchdigits.recognition.reading import CANDIDATE

STATE_NAME = ".batchdigits-state.sqlite"
SCHEMA_VERSION = 3  # 2: candidate digits instead of one glyph and its probabilities; 3: pages

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path BLOB NOT NULL,         -- relative path as the file system's bytes
    page INTEGER NOT NULL,      -- 1-based page of a multi-page file; 0 for a one-page file
    size INTEGER NOT NULL,      -- of the version that was read
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    model TEXT NOT NULL,        -- sha256 of the model that read it
    status TEXT NOT NULL,       -- glyph, no_digit or failed
    candidates BLOB,            -- reading.CANDIDATE rows: candidate digits, glyphs, probabilities
    width INTEGER,              -- of the picture as a viewer shows it
    height INTEGER,
    reason TEXT,
    thumbnail BLOB,             -- PNG or JPEG
    processed_at TEXT NOT NULL, -- ISO 8601 UTC
    PRIMARY KEY (path, page)
);
"""


@dataclass(frozen=True)
class Stamp:
    """What the ledger knows about a file without reading it: the version it saw, and who read it."""

    size: int
    mtime_ns: int
    sha256: str
    model: str


@dataclass(frozen=True)
class Entry:
    """A file's (or a page's) stored result. `candidates` is its (K,) reading.CANDIDATE table,
    classified; `image_size` the picture's (width, height); `page` 1-based for a page of a
    multi-page file, None otherwise."""

    key: bytes
    stamp: Stamp
    status: str
    candidates: np.ndarray | None
    image_size: tuple[int, int] | None
    reason: str | None
    thumbnail: bytes | None
    page: int | None = None


# The size (and mtime) on a document's rows while the rest of its pages are read: no file has
# it, so a run stopped part-way reads the document whole again.
UNFINISHED_SIZE = -1


def path_key(relative: str) -> bytes:
    """The ledger key of a relative path: its bytes on disk (undecodable names stay distinct)."""
    return relative.encode("utf-8", "surrogateescape")


class Ledger:
    """An open ledger. Use `open_ledger`; every `record` call is its own committed transaction."""

    def __init__(self, connection: sqlite3.Connection, path: Path, recovered_from: Path | None) -> None:
        self._db = connection
        self.path = path
        self.recovered_from = recovered_from  # a damaged ledger moved aside, if there was one

    def close(self) -> None:
        """Close the database (everything recorded is already committed)."""
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stamps(self) -> dict[bytes, Stamp]:
        """Every file's stamp, by key: enough to decide what needs decoding, without the results."""
        rows = self._db.execute("SELECT path, size, mtime_ns, sha256, model FROM files")
        return {bytes(row[0]): Stamp(row[1], row[2], row[3], row[4]) for row in rows}

    def record(self, entries: Iterable[Entry], processed_at: str, *, adding_to: Collection[bytes] = ()) -> None:
        """Store results, in one transaction: a file's entries (all its pages) replace all it had,
        unless its key is in `adding_to` (a document recorded in parts: these pages add to it)."""
        entries = list(entries)
        rows = [
            (
                entry.key, entry.page or 0, entry.stamp.size, entry.stamp.mtime_ns, entry.stamp.sha256, entry.stamp.model,
                entry.status,
                None if entry.candidates is None else np.ascontiguousarray(entry.candidates, CANDIDATE).tobytes(),
                *(entry.image_size or (None, None)),
                entry.reason, entry.thumbnail, processed_at,
            )
            for entry in entries
        ]
        if rows:
            with self._db:
                replaced = {entry.key for entry in entries} - set(adding_to)
                self._db.executemany("DELETE FROM files WHERE path = ?", [(key,) for key in replaced])
                self._db.executemany("INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    def restamp(self, moves: Iterable[tuple[bytes, int, int]]) -> None:
        """Note a new size/mtime for files whose content (hash) did not change: (key, size, mtime_ns)."""
        with self._db:
            self._db.executemany("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?",
                                 [(size, mtime_ns, key) for key, size, mtime_ns in moves])

    def seal(self, stamps: Iterable[tuple[bytes, Stamp]]) -> None:
        """Give documents recorded in parts their stamps (key, stamp) once every page is in; until
        then their rows hold UNFINISHED_SIZE, so a run stopped part-way reads them whole again."""
        with self._db:
            self._db.executemany("UPDATE files SET size = ?, mtime_ns = ?, sha256 = ?, model = ? WHERE path = ?",
                                 [(stamp.size, stamp.mtime_ns, stamp.sha256, stamp.model, key) for key, stamp in stamps])

    def forget(self, keys: Iterable[bytes]) -> None:
        """Drop the rows of files that are gone."""
        with self._db:
            self._db.executemany("DELETE FROM files WHERE path = ?", [(key,) for key in keys])

    def entries(self, *, thumbnails: bool = True) -> dict[bytes, list[Entry]]:
        """Every stored result by key, a file's pages in order (one table scan); without
        thumbnails when they are not needed."""
        columns = ("*" if thumbnails else
                   "path, page, size, mtime_ns, sha256, model, status, candidates, width, height, reason, NULL")
        found: dict[bytes, list[Entry]] = {}
        for row in self._db.execute(f"SELECT {columns} FROM files ORDER BY path, page"):
            found.setdefault(bytes(row[0]), []).append(_entry(row))
        return found

    def get_meta(self, key: str) -> str | None:
        """A stored setting (e.g. what the last report was made from), or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def _entry(row: tuple) -> Entry:
    key, page, size, mtime_ns, sha256, model, status, candidates, width, height, reason, thumbnail = row[:12]
    return Entry(
        key=bytes(key), stamp=Stamp(size, mtime_ns, sha256, model), status=status,
        candidates=None if candidates is None else np.frombuffer(candidates, dtype=CANDIDATE),
        image_size=None if width is None else (width, height), reason=reason,
        thumbnail=None if thumbnail is None else bytes(thumbnail), page=page or None,
    )


def open_ledger(out_dir: Path) -> Ledger:
    """Open (or create) the ledger in `out_dir`. A damaged or foreign one is moved aside and rebuilt.

    The ledger only saves work (every result can be computed again from the inputs), so a
    damaged file must not stop scheduled runs forever.
    """
    path = out_dir / STATE_NAME
    try:
        return Ledger(_connect(path), path, None)
    except sqlite3.DatabaseError:
        aside = path.with_name(f"{STATE_NAME}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(path) + suffix)
            if source.exists():
                os.replace(source, Path(str(aside) + suffix))
        return Ledger(_connect(path), path, aside)


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        # WAL: a run killed mid-write leaves the last committed batch intact and readable.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(_SCHEMA)
        connection.isolation_level = "DEFERRED"
        with connection:
            found = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if found is None:
                connection.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif found[0].isdigit() and int(found[0]) < SCHEMA_VERSION:
                # An older batchdigits' results lack what this one reports: every file is read again.
                connection.execute("DROP TABLE files")
                connection.execute("DELETE FROM meta")
                connection.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif found[0] != str(SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"ledger schema {found[0]}, expected {SCHEMA_VERSION}")
        connection.executescript(_SCHEMA)
        connection.execute("SELECT count(*) FROM files").fetchone()
    except sqlite3.DatabaseError:
        connection.close()
        raise
    return connection
