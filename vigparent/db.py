"""The database engine and the request-scoped session: the only place sessions are made."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, MetaData, create_engine, event, make_url, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names so Alembic migrations are reproducible on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Flask may serve requests from several threads; each gets its own connection.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        _private_sqlite_file(url)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets the web server read while the job worker writes.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows (a withdrawn family's reflections and clip notes) are overwritten
            # with zeros, not merely unlinked; checkpoint() then empties the WAL.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        _take_turns_writing(engine)

    return engine


_WRITING = "vig_sqlite_writing"
_DML = ("insert", "update", "delete", "replace")


def _take_turns_writing(engine: Engine) -> None:
    """SQLite writers of this process queue on a lock instead of in SQLite's busy handler.

    SQLite lets one connection write at a time; the others wait in its busy handler, which
    sleeps inside C. Under the gevent server that sleep stops the whole process, including
    the writer it waits for, should that writer have paused for I/O (an fsync handed to a
    thread): a deadlock until the busy timeout. Queuing on a lock first (gevent makes it
    cooperative) lets the writer finish. SQLite has one writer anyway, so nothing is lost.
    Other processes (the job consumer) still meet SQLite's own busy handler.
    """
    turn = threading.Lock()

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(conn: Any, _c: Any, statement: str, *_args: Any) -> None:
        if not conn.info.get(_WRITING) and statement.lstrip()[:7].lower().startswith(_DML):
            # As long as SQLite's own busy timeout (30 s), then the same kind of failure.
            if not turn.acquire(timeout=30):
                raise TimeoutError("the database stayed busy with another write")
            conn.info[_WRITING] = True

    def _done(info: dict[str, Any]) -> None:
        if info.pop(_WRITING, False):
            turn.release()

    @event.listens_for(engine, "commit")
    def _after_commit(conn: Any) -> None:
        _done(conn.info)

    @event.listens_for(engine, "rollback")
    def _after_rollback(conn: Any) -> None:
        _done(conn.info)

    @event.listens_for(engine.pool, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        _done(record.info)  # a connection given back mid-transaction is rolled back


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file with mode 0600 before SQLite does (its -wal/-shm copy the mode)."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    os.close(fd)


def checkpoint(s: Session) -> bool:
    """Fold SQLite's write-ahead log into the database and truncate it to zero bytes.

    Called after deleting a family's content, so the old page images in the WAL do not keep
    it readable. False when a reader held the log open (it is then emptied on a later
    checkpoint). PostgreSQL has no such file here: see the README on VACUUM.
    """
    if s.get_bind().dialect.name != "sqlite":
        return True
    busy, _log, _done = s.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
    return not busy


def init_app(app: Flask, url: str) -> None:
    engine = make_engine(url)
    app.extensions["vig_engine"] = engine
    app.extensions["vig_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)

    @app.teardown_request
    def _close_request_session(_exc: BaseException | None) -> None:
        session: Session | None = request.__dict__.pop(_ATTR, None)
        if session is not None:
            session.close()

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop(_ATTR, None)
        if session is not None:
            session.close()


_ATTR = "_vig_db_session"


def session() -> Session:
    """The session for the current request, or else for the current app context (a job).

    Keyed on the request rather than `g` because Flask reuses an already-pushed app context
    for requests (as in tests), and two requests must never share an identity map.
    """
    holder = request.__dict__ if has_request_context() else g.__dict__
    s: Session | None = holder.get(_ATTR)
    if s is None:
        s = current_app.extensions["vig_sessionmaker"]()
        holder[_ATTR] = s
    return s


def release() -> None:
    """End the current transaction and give its connection back to the pool.

    For a request about to wait on something slow, such as a phone's upload body: holding a
    pooled connection for minutes would starve every other request. Loaded objects stay
    usable (sessions do not expire them on commit); the next query takes a connection again.
    """
    session().commit()


@contextmanager
def fresh_session(app: Flask) -> Iterator[Session]:
    """A session outside any request, for CLI commands and jobs that need their own."""
    s: Session = app.extensions["vig_sessionmaker"]()
    try:
        yield s
    finally:
        s.close()
