"""Database engine and the one-transaction-per-request session dependency."""

from __future__ import annotations

import contextlib
import functools
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from himaya.settings import ServiceSettings


@dataclass
class Database:
    """The engine and session factory of one service, owned by the app's lifespan."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


PING_AFTER_IDLE_SECONDS = 1.0


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Check a pooled connection before use only when it sat idle for a while.

    `pool_pre_ping` checks every checkout, and the asyncpg dialect's ping is three round trips (BEGIN, `;`,
    ROLLBACK): measured at 2,569 → 2,493 µs CPU per GET of a case without it, and a fifth more requests per
    second. A connection in steady use was just proven alive; one idle for a second may have outlived a database
    restart, so it is pinged, and replaced (the pool retries the checkout) when the ping fails.
    """

    @sa.event.listens_for(engine.sync_engine, "connect")
    @sa.event.listens_for(engine.sync_engine, "checkin")
    def _idle_since(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:  # any failure means this connection is unusable
            raise sa.exc.DisconnectionError(str(exc)) from exc


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Every engine of the system (services, commands, migrations, tests) is made here.

    The values of a statement are children's names, notes and identifiers: SQLAlchemy's errors and logs
    show the SQL without them (`hide_parameters`), and the driver's DETAIL line, which quotes the values of
    a violated key or the whole failing row, is taken off the error before anything can log it (the SQLSTATE,
    message and constraint name stay).
    """
    engine = create_async_engine(url, hide_parameters=True, **kwargs)
    sa.event.listen(engine.sync_engine, "handle_error", _drop_driver_detail)
    return engine


def _drop_driver_detail(context: sa.engine.ExceptionContext) -> None:
    hide_driver_detail(context.original_exception)


def hide_driver_detail(error: BaseException | None) -> None:
    """Remove the DETAIL (values of the row or key) from a database error and the errors it wraps."""
    seen = error
    for _ in range(4):
        if seen is None:
            break
        if getattr(seen, "detail", None) is not None and hasattr(seen, "sqlstate"):
            with contextlib.suppress(AttributeError, TypeError):
                seen.detail = None  # type: ignore[attr-defined]
        seen = seen.__cause__


def create_database(settings: ServiceSettings, *, application_name: str) -> Database:
    """Create the engine for a service's own role (created by the lifespan, never at import)."""
    engine = create_engine(
        settings.dsn,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": application_name},
                      "command_timeout": 30},
    )
    _ping_idle_connections(engine)
    return Database(engine=engine, sessionmaker=async_sessionmaker(engine, expire_on_commit=False))


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request: committed on success, rolled back on any error."""
    db: Database = request.app.state.db
    async with db.sessionmaker() as session, session.begin():
        yield session


# scope="function" closes the dependency (and commits) before the response is sent, so a client never
# sees a success for a write that was not committed.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def database_ready(db: Database, *, schema: str, expected_head: str | None) -> tuple[bool, str]:
    """Is the database reachable and the service's schema migrated to the code's head revision?"""
    try:
        async with db.engine.connect() as conn:
            version = (await conn.execute(
                sa.text(f'SELECT version_num FROM "{schema}".alembic_version')  # noqa: S608 (schema is a code constant)
            )).scalar_one_or_none()
    except Exception as exc:  # any failure to reach or read means not ready
        return False, f"database unreachable: {type(exc).__name__}"
    if expected_head is not None and version != expected_head:
        return False, f"migrations not at head (database {version}, code {expected_head})"
    return True, "ok"


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    bound: dict[str, Any]
    processors: dict[str, Any]


@functools.lru_cache(maxsize=512)
def _compile(stmt: sa.Executable, dialect: sa.Dialect) -> _Compiled:
    compiled = stmt.compile(dialect=dialect)  # type: ignore[attr-defined]
    names = tuple(compiled.positiontup or ())
    return _Compiled(sql=str(compiled), names=names, bound=dict(compiled.params),
                     processors={n: p for n, p in compiled._bind_processors.items() if n in names})


def _arguments(c: _Compiled, params: dict[str, Any]) -> list[Any]:
    args = [params[n] if n in params else c.bound[n] for n in c.names]
    if c.processors:
        args = [c.processors[n](a) if n in c.processors else a for n, a in zip(c.names, args, strict=True)]
    return args


def _transaction(target: AsyncSession | AsyncConnection) -> object | None:
    sync = target.sync_session if isinstance(target, AsyncSession) else target.sync_connection
    return sync.get_transaction() if sync is not None else None


def transaction_memo(target: AsyncSession | AsyncConnection, key: str) -> Any:
    """What `remember_for_transaction` stored under `key` for the target's current transaction, else None."""
    held = target.info.get(key)
    if held is not None and held[0]() is _transaction(target) is not None:
        return held[1]
    return None


def remember_for_transaction(target: AsyncSession | AsyncConnection, key: str, value: Any) -> None:
    """Keep `value` for the target's current transaction only (a later transaction starts without it)."""
    transaction = _transaction(target)
    if transaction is not None:
        target.info[key] = (weakref.ref(transaction), value)


_RAW = "himaya.db.raw_connection"


async def _raw(target: AsyncSession | AsyncConnection) -> tuple[AsyncConnection, Any]:
    # The connection and its asyncpg adapter, looked up once per transaction (each lookup is a greenlet switch).
    held = transaction_memo(target, _RAW)
    if held is not None:
        return held  # type: ignore[no-any-return]
    conn = target if isinstance(target, AsyncConnection) else await target.connection()
    adapted = (await conn.get_raw_connection()).dbapi_connection
    assert adapted is not None
    remember_for_transaction(target, _RAW, (conn, adapted))
    return conn, adapted


async def _prepared(target: AsyncSession | AsyncConnection, stmt: sa.Executable,
                    params: Sequence[dict[str, Any]], *, many: bool) -> list[Any]:
    conn, adapted = await _raw(target)
    c = _compile(stmt, conn.dialect)
    try:
        async with adapted._execute_mutex:
            if adapted._transaction is None:  # SQLAlchemy's asyncpg adapter opens its transaction lazily
                await adapted._start_transaction()
            prepared, _ = await adapted._prepare(c.sql, adapted._invalidate_schema_cache_asof)
            if many:
                await prepared.executemany([_arguments(c, p) for p in params])
                return []
            return list(await prepared.fetch(*_arguments(c, params[0])))
    except Exception as error:
        hide_driver_detail(error)  # this path bypasses the engine's handle_error event
        # The errors an execute() would raise: the adapter's DBAPI error wrapped in SQLAlchemy's (IntegrityError,
        # DataError…, `connection_invalidated` on a lost connection, which is then dropped from the pool).
        try:
            adapted._handle_exception(error)
        except Exception as dbapi_error:
            lost = conn.dialect.is_disconnect(dbapi_error, adapted, None)  # type: ignore[arg-type]
            wrapped = sa.exc.DBAPIError.instance(c.sql, None, dbapi_error, conn.dialect.loaded_dbapi.Error,
                                                 connection_invalidated=lost)
            if lost:
                await conn.invalidate(dbapi_error)
            raise wrapped from dbapi_error
        raise


async def fetch_prepared(target: AsyncSession | AsyncConnection, stmt: sa.Executable,
                         params: dict[str, Any]) -> list[Any]:
    """Rows of a statement built once (at import, or cached per shape), run on the session's own connection
    and transaction as an asyncpg prepared statement, without SQLAlchemy's per-execution machinery.

    For hot paths whose statement object is reused, so that its SQL is compiled once (measured: a third of
    the CPU of reading a case went to building and executing its statements). Rows are asyncpg records
    (`row["name"]`), the values SQLAlchemy itself returns for tables without type decorators.
    """
    return await _prepared(target, stmt, [params], many=False)


async def execute_many_prepared(target: AsyncSession | AsyncConnection, stmt: sa.Executable,
                                rows: Sequence[dict[str, Any]]) -> None:
    """Run a reused statement once per parameter set, as one asyncpg prepared executemany."""
    if rows:
        await _prepared(target, stmt, rows, many=True)
