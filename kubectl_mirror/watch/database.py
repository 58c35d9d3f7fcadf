"""ConfigMirror's PostgreSQL copy, written in the background so a database that is down or slow
never holds up mirroring, and nothing is lost while it is.

Callers say what a row should become (`upsert`, `delete`, `delete_all`) and go on. Changes are
kept per ConfigMirror and per row, the last one winning (an upsert then a delete of one row is a
delete; a `delete_all` drops every change queued before it), and one thread of the writer's own
writes them. A failed write is kept and retried after a pause that doubles up to a cap; what
is kept is bounded by the number of rows, so an outage of any length costs memory in
proportion to the ConfigMaps, not to the changes. `state()` says how far behind a ConfigMirror
is, for its status. The queue lives in memory: after a restart the watch's first reconcile
upserts every row again, which is what makes a restart lose nothing either.

Threads. Any thread calls `configure`, `forget`, `upsert`, `delete`, `delete_all`, `state`,
`wait_idle` and `stop`; the writer thread (`start`) writes. `_lock` guards `_owners` (and every
`_Owner` in it), `_stopping` and `_stop_by`; `_changed` is its condition, notified at every
change. A method holds the lock only to read or update those fields: the writer takes a batch
out under it, writes with it released, and puts back what failed; no I/O, no logging and no
call into a table happen under it. `_tables` and `_ensured` belong to the writer thread alone.
Messages and logs carry `DatabaseError.one_line()` (no password, URI or ConfigMap content)
and row names, never values.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubectl_mirror.errors import printable
from kubectl_mirror.io.postgres import (
    CONNECT_TIMEOUT,
    ConfigMapTable,
    Credentials,
    DatabaseError,
    Owner,
    Row,
    RowKey,
    row_of,
)

log = logging.getLogger("kubectl_mirror.watch")

Op = Row | RowKey  # an upsert carries its row; a delete only the key


class Table(Protocol):
    """What the writer needs of a table (`ConfigMapTable`; tests may pass another)."""

    def ensure_table(self) -> None: ...
    def upsert(self, row: Row) -> None: ...
    def delete(self, key: RowKey) -> None: ...
    def delete_all(self, owner: Owner) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class DatabaseState:
    """Where one ConfigMirror's database copy stands.

    `pending`: changes not written yet (row upserts and deletes, plus one for a pending
    `delete_all`). `caught_up`: nothing pending and the last attempt succeeded. `connected`:
    the last attempt reached the database (the operator's `databaseStatus.connected`).
    `last_error`: that attempt's error, one line without secrets, "" after a success.
    `last_success`: wall-clock time of the last successful write, None before any."""

    configured: bool
    pending: int
    caught_up: bool
    connected: bool
    last_error: str = ""
    last_success: float | None = None

    def message(self) -> str:
        """One line for a status condition."""
        if not self.configured:
            return f"waiting for database credentials; {self.pending} changes pending"
        if self.caught_up:
            return "database up to date"
        if self.last_error:
            return f"database behind: {self.pending} changes pending, retrying; last error: {self.last_error}"
        return f"writing {self.pending} changes to the database"


@dataclass
class _Owner:
    """One ConfigMirror's queue and health. Guarded by `DatabaseWriter._lock`."""

    credentials: Credentials | None = None
    pending: dict[tuple[str, str], Op] = field(default_factory=dict)  # (namespace, name) -> last change
    purge: bool = False  # a delete_all to run before `pending`
    epoch: int = 0  # delete_all calls so far: a failed change from an older epoch is dropped
    in_flight: int = 0
    failures: int = 0  # attempts failed in a row
    retry_at: float = 0.0  # monotonic
    turn: int = 0  # when it was last served, for round robin
    last_error: str = ""
    last_success: float | None = None
    connected: bool = False

    def has_work(self) -> bool:
        return self.purge or bool(self.pending)

    def idle(self) -> bool:
        return not self.has_work() and self.in_flight == 0


@dataclass(frozen=True)
class _Job:
    owner: Owner
    state: _Owner  # the queue it came from: a forgotten owner's successor is another object
    credentials: Credentials
    purge: bool
    ops: tuple[Op, ...]
    epoch: int


@dataclass
class _Outcome:
    failed: list[Op] = field(default_factory=list)
    purge_failed: bool = False
    error: str = ""
    connection: bool = False


class DatabaseWriter:
    """Writes ConfigMirrors' rows in the background; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        table_factory: Callable[[Credentials], Table] = ConfigMapTable,
        initial_backoff: float = 1.0,
        max_backoff: float = 60.0,
        batch_size: int = 200,
    ) -> None:
        self._table_factory = table_factory
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._owners: dict[Owner, _Owner] = {}
        self._stopping = False
        self._stop_by = 0.0
        self._turns = itertools.count(1)
        self._tables: dict[Credentials, Table] = {}  # writer thread only
        self._ensured: set[Credentials] = set()  # writer thread only
        self._thread = threading.Thread(target=self._run, name="database-writer", daemon=True)

    # -- what callers say --------------------------------------------------------------------

    def configure(self, owner: Owner, credentials: Credentials | None) -> bool:
        """Set where `owner`'s rows go (None: not known yet; changes wait). True when they
        changed: the new database may lack rows written before, so upsert them again."""
        with self._lock:
            state = self._owner_locked(owner)
            if state.credentials == credentials:
                return False
            state.credentials = credentials
            state.failures, state.retry_at, state.last_error, state.connected = 0, 0.0, "", False
            self._changed.notify_all()
            return True

    def forget(self, owner: Owner) -> None:
        """Drop `owner` and whatever it still had pending (database disabled, ConfigMirror gone)."""
        with self._lock:
            self._owners.pop(owner, None)
            self._changed.notify_all()

    def upsert(self, owner: Owner, configmap: Mapping[str, Any]) -> None:
        """Save `configmap` (the source ConfigMap, as the operator did) as `owner`'s row."""
        row = row_of(owner, configmap)
        self._queue(owner, (row.key.namespace, row.key.name), row)

    def delete(self, owner: Owner, namespace: str, name: str) -> None:
        self._queue(owner, (namespace, name), RowKey(owner[0], owner[1], namespace, name))

    def delete_all(self, owner: Owner) -> None:
        """Delete every row of `owner` (its finalizer); changes queued before are dropped."""
        with self._lock:
            state = self._owner_locked(owner)
            state.pending.clear()
            state.purge = True
            state.epoch += 1
            self._changed.notify_all()

    def _queue(self, owner: Owner, key: tuple[str, str], op: Op) -> None:
        with self._lock:
            self._owner_locked(owner).pending[key] = op
            self._changed.notify_all()

    def _owner_locked(self, owner: Owner) -> _Owner:
        return self._owners.setdefault(owner, _Owner())

    # -- what callers read -------------------------------------------------------------------

    def state(self, owner: Owner) -> DatabaseState:
        with self._lock:
            s = self._owners.get(owner) or _Owner()
            pending = len(s.pending) + int(s.purge) + s.in_flight
            return DatabaseState(
                configured=s.credentials is not None,
                pending=pending,
                caught_up=pending == 0 and not s.last_error,
                connected=s.connected,
                last_error=s.last_error,
                last_success=s.last_success,
            )

    def wait_idle(self, owner: Owner, timeout: float) -> bool:
        """Wait until nothing of `owner` is pending or being written; False after `timeout`."""
        with self._lock:
            return self._changed.wait_for(lambda: (self._owners.get(owner) or _Owner()).idle(), timeout)

    # -- the writer thread -------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Keep writing what is pending for up to `timeout` seconds, then stop the thread. True
        when nothing was left unwritten."""
        with self._lock:
            self._stopping = True
            self._stop_by = time.monotonic() + timeout
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout + 2 * CONNECT_TIMEOUT)  # a batch may be mid-connect
        with self._lock:
            return all(s.idle() for s in self._owners.values())

    def _run(self) -> None:
        try:
            while (job := self._next_job()) is not None:
                outcome = self._write(job)
                with self._lock:
                    message = self._settle_locked(job, outcome)
                    in_use = {s.credentials for s in self._owners.values()}
                    self._changed.notify_all()
                if message:
                    log.warning("%s", message)
                self._close_unused(in_use)
        finally:
            self._close_unused(set())

    def _next_job(self) -> _Job | None:
        with self._lock:
            while True:
                now = time.monotonic()
                waiting = [
                    (o, s) for o, s in self._owners.items() if s.credentials is not None and s.has_work()
                ]
                if self._stopping and (not waiting or now >= self._stop_by):
                    return None
                ready = [(s.turn, o) for o, s in waiting if s.retry_at <= now]
                if ready:
                    return self._take_locked(min(ready)[1])
                wake = [s.retry_at for _, s in waiting] + ([self._stop_by] if self._stopping else [])
                self._changed.wait(min(wake) - now if wake else None)

    def _take_locked(self, owner: Owner) -> _Job:
        state = self._owners[owner]
        keys = list(itertools.islice(state.pending, self._batch_size))
        ops = tuple(state.pending.pop(k) for k in keys)
        assert state.credentials is not None
        job = _Job(owner, state, state.credentials, state.purge, ops, state.epoch)
        state.purge = False
        state.in_flight = len(ops) + int(job.purge)
        state.turn = next(self._turns)
        return job

    def _write(self, job: _Job) -> _Outcome:
        """The I/O, lock released. Whatever goes wrong, the batch is kept: a writer thread that
        died of a bug (or of a driver that cannot load) would silently drop every change."""
        try:
            return self._write_batch(job)
        except Exception as err:
            self._ensured.discard(job.credentials)
            lines = str(err).strip().splitlines() or [""]
            message = f"database writer: unexpected {type(err).__name__}: {job.credentials.redact(lines[0])}"
            log.debug("database writer failed", exc_info=True)
            return _Outcome(list(job.ops), job.purge, printable(message), connection=True)

    def _write_batch(self, job: _Job) -> _Outcome:
        """A lost connection stops the batch; a row the database refuses is kept for the retry
        and the others go on."""
        outcome = _Outcome()
        try:
            table = self._table(job.credentials)
            if job.purge:
                table.delete_all(job.owner)
        except DatabaseError as err:
            self._ensured.discard(job.credentials)
            return _Outcome(list(job.ops), job.purge, err.one_line(), err.connection)
        for i, op in enumerate(job.ops):
            try:
                if isinstance(op, Row):
                    table.upsert(op)
                else:
                    table.delete(op)
            except DatabaseError as err:
                self._ensured.discard(job.credentials)  # the table may have been dropped
                outcome.error, outcome.connection = err.one_line(), err.connection
                if err.connection:
                    outcome.failed.extend(job.ops[i:])
                    break
                outcome.failed.append(op)
        return outcome

    def _table(self, credentials: Credentials) -> Table:
        table = self._tables.get(credentials)
        if table is None:
            table = self._tables[credentials] = self._table_factory(credentials)
        if credentials not in self._ensured:
            table.ensure_table()
            self._ensured.add(credentials)
        return table

    def _settle_locked(self, job: _Job, outcome: _Outcome) -> str:
        """Put back what failed unless something newer replaced it; returns what to log."""
        state = job.state
        if self._owners.get(job.owner) is not state:  # forgotten meanwhile
            return ""
        state.in_flight = 0
        current = state.epoch == job.epoch
        if not outcome.error:
            recovered = state.failures > 0
            state.failures, state.retry_at, state.last_error, state.connected = 0, 0.0, "", True
            state.last_success = time.time()
            return f"database for ConfigMirror {'/'.join(job.owner)}: caught up again" if recovered else ""
        state.purge = state.purge or (outcome.purge_failed and current)
        for op in outcome.failed if current else ():
            key = (op.key.namespace, op.key.name) if isinstance(op, Row) else (op.namespace, op.name)
            state.pending.setdefault(key, op)  # a newer change queued meanwhile wins
        state.failures += 1
        delay = min(self._max_backoff, self._initial_backoff * 2 ** (state.failures - 1))
        state.retry_at = time.monotonic() + delay
        first = state.failures == 1 or outcome.error != state.last_error
        state.last_error, state.connected = outcome.error, not outcome.connection
        if not first:
            return ""
        kept = len(state.pending) + int(state.purge)
        where = "/".join(job.owner)
        return f"database for ConfigMirror {where}: {outcome.error}; {kept} kept, retrying in {delay:.1f}s"

    def _close_unused(self, in_use: set[Credentials | None]) -> None:
        for credentials in [c for c in self._tables if c not in in_use]:
            self._ensured.discard(credentials)
            self._tables.pop(credentials).close()
