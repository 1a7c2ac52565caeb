"""Wrapped family keys in a database of their own, for several web nodes (``keyring.KeyStore``).

Why a separate PostgreSQL database (``VIGPARENT_KEYSTORE_URL``), not Redis or the bucket:

- Every node must see the same key at once, and two nodes minting a family's first key at
  the same moment must end up with one key: an ``INSERT ... ON CONFLICT DO NOTHING`` in a
  transactional store does that, and ``pg_advisory_xact_lock`` gives ``Keyring`` its
  create/destroy/rewrap lock across nodes.
- Losing a wrapped key loses the family's media: it needs a durable store. Redis's snapshots
  are not that. The media bucket is the one place keys must *not* be (a copy of the bucket
  would carry its own keys), and object stores keep deleted objects in versions and
  replicas, so "destroyed" would be hard to promise.
- Kept apart from the app's database, it gets its own backup rule: backups on a short
  rotation (days, not years), so restoring an old backup of the app's database, or of the
  media, cannot bring back a key that a withdrawal destroyed (DESIGN.md §7).

The table is tiny (family id, 76 bytes); this module creates it if it is missing, so the key
database needs no migrations of its own. Only wrapped keys are stored: without the master key
(held by each node, never in any database) they open nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    LargeBinary,
    MetaData,
    Table,
    create_engine,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.pool import NullPool

_metadata = MetaData()
wrapped_keys = Table(
    "wrapped_family_keys",
    _metadata,
    Column("family_id", BigInteger, primary_key=True, autoincrement=False),
    Column("wrapped_key", LargeBinary, nullable=False),
)
# The advisory lock's number: "VIGKEYS" in ASCII, any fixed 64-bit value would do.
_LOCK_ID = 0x564947_4B455953


class DatabaseKeyStore:
    """Wrapped keys in one table of a database apart from the app's (see the module doc)."""

    def __init__(self, url: str) -> None:
        self._engine: Engine = create_engine(url, pool_pre_ping=True)
        self._postgres = self._engine.dialect.name == "postgresql"
        # The lock's waits hold connections of their own, never the pool's: however many wait,
        # the holder can still get a connection to do its work and let the next one in.
        self._lock_engine: Engine = create_engine(url, poolclass=NullPool)
        with self._engine.begin() as conn:
            if self._postgres:  # nodes starting together: one creates the table, once
                conn.execute(select(func.pg_advisory_xact_lock(_LOCK_ID)))
            _metadata.create_all(conn, checkfirst=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        if not self._postgres:  # SQLite (tests of the interface): one writer at a time anyway
            yield
            return
        with self._lock_engine.begin() as conn:
            # Held until this transaction ends; psycopg waits cooperatively under gevent.
            conn.execute(select(func.pg_advisory_xact_lock(_LOCK_ID)))
            yield

    def read(self, family_id: int) -> bytes | None:
        with self._engine.connect() as conn:
            blob = conn.scalar(
                select(wrapped_keys.c.wrapped_key).where(wrapped_keys.c.family_id == family_id)
            )
        return bytes(blob) if blob is not None else None

    def add(self, family_id: int, blob: bytes) -> bool:
        with self._engine.begin() as conn:
            if self._postgres:
                stmt = (
                    pg_insert(wrapped_keys)
                    .values(family_id=family_id, wrapped_key=blob)
                    .on_conflict_do_nothing()
                )
                return conn.execute(stmt).rowcount == 1
            if (
                conn.scalar(
                    select(wrapped_keys.c.family_id).where(wrapped_keys.c.family_id == family_id)
                )
                is not None
            ):
                return False
            conn.execute(insert(wrapped_keys).values(family_id=family_id, wrapped_key=blob))
            return True

    def replace(self, family_id: int, blob: bytes) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(wrapped_keys)
                .where(wrapped_keys.c.family_id == family_id)
                .values(wrapped_key=blob)
            )

    def shred(self, family_id: int) -> bool:
        """Delete the row. PostgreSQL frees the old row version at its next vacuum; the key
        database's own backups and WAL archive are what must be on a short rotation."""
        with self._engine.begin() as conn:
            return (
                conn.execute(
                    delete(wrapped_keys).where(wrapped_keys.c.family_id == family_id)
                ).rowcount
                == 1
            )

    def family_ids(self) -> list[int]:
        with self._engine.connect() as conn:
            return sorted(conn.scalars(select(wrapped_keys.c.family_id)))

    def dispose(self) -> None:
        self._engine.dispose()
        self._lock_engine.dispose()
