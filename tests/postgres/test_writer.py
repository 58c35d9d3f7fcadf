"""DatabaseWriter: changes coalesce per row, failures are kept and retried, an outage of the
real server loses nothing. Waits are for a condition with a generous timeout, never a duration."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from kubectl_mirror.io.postgres import Credentials, Owner, Row, RowKey
from kubectl_mirror.watch.database import DatabaseWriter

from .conftest import PASSWORD, PgServer, rows

OWNER = ("ops", "app-mirror")
OTHER = ("ops", "other-mirror")
WAIT = 60.0  # seconds: how long a condition may take on a loaded machine before the test fails


def cm(name: str, namespace: str = "app-source", **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "labels": {"app": "x"}}, "data": data}


def wait_for(condition: Callable[[], object], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def contents(credentials: Credentials) -> dict[tuple[str, str, str, str], dict[str, str]]:
    return {
        (r["configmirror_namespace"], r["configmirror_name"], r["namespace"], r["name"]): r["data"]
        for r in rows(credentials)
    }


class Recorder:
    """A table that records what it is asked, for the exact sequence of operations."""

    def __init__(self) -> None:
        self.ops: list[tuple[str, ...]] = []

    def ensure_table(self) -> None:
        self.ops.append(("ensure",))

    def upsert(self, row: Row) -> None:
        self.ops.append(("upsert", row.key.name, *sorted(row.data.values())))

    def delete(self, key: RowKey) -> None:
        self.ops.append(("delete", key.name))

    def delete_all(self, owner: Owner) -> None:
        self.ops.append(("delete_all", *owner))

    def close(self) -> None:
        self.ops.append(("close",))


@pytest.fixture
def make_writer() -> Iterator[Callable[..., DatabaseWriter]]:
    made: list[DatabaseWriter] = []

    def make(**kwargs: Any) -> DatabaseWriter:
        kwargs.setdefault("initial_backoff", 0.05)
        kwargs.setdefault("max_backoff", 0.5)
        writer = DatabaseWriter(**kwargs)
        made.append(writer)
        return writer

    yield make
    for writer in made:
        writer.stop(0)


FAKE = Credentials(host="fake", user="u")


def test_changes_to_one_row_coalesce_and_the_last_one_wins(
    make_writer: Callable[..., DatabaseWriter],
) -> None:
    table = Recorder()
    writer = make_writer(table_factory=lambda _: table)
    writer.configure(OWNER, FAKE)
    writer.upsert(OWNER, cm("a", v="1"))
    writer.upsert(OWNER, cm("a", v="2"))
    writer.upsert(OWNER, cm("b", v="1"))
    writer.delete(OWNER, "app-source", "b")  # upsert then delete: a delete
    writer.delete(OWNER, "app-source", "c")
    writer.upsert(OWNER, cm("c", v="3"))  # delete then upsert: an upsert
    assert writer.state(OWNER).pending == 3
    writer.start()
    assert writer.wait_idle(OWNER, WAIT)
    assert table.ops == [("ensure",), ("upsert", "a", "2"), ("delete", "b"), ("upsert", "c", "3")]


def test_delete_all_drops_what_was_queued_before_and_runs_before_what_comes_after(
    make_writer: Callable[..., DatabaseWriter],
) -> None:
    table = Recorder()
    writer = make_writer(table_factory=lambda _: table)
    writer.configure(OWNER, FAKE)
    writer.upsert(OWNER, cm("a", v="1"))
    writer.delete_all(OWNER)
    writer.upsert(OWNER, cm("b", v="2"))
    assert writer.state(OWNER).pending == 2
    writer.start()
    assert writer.wait_idle(OWNER, WAIT)
    assert table.ops == [("ensure",), ("delete_all", *OWNER), ("upsert", "b", "2")]


def test_rows_arrive_and_the_state_says_caught_up(
    make_writer: Callable[..., DatabaseWriter], db: Credentials
) -> None:
    writer = make_writer()
    writer.start()
    unknown = writer.state(OWNER)
    assert (unknown.configured, unknown.pending, unknown.caught_up) == (False, 0, True)
    writer.configure(OWNER, db)
    for name in ("a", "b", "c"):
        writer.upsert(OWNER, cm(name, v=name))
    writer.upsert(OTHER, cm("a", v="other"))
    writer.configure(OTHER, db)
    writer.delete(OWNER, "app-source", "b")
    assert writer.wait_idle(OWNER, WAIT) and writer.wait_idle(OTHER, WAIT)
    assert contents(db) == {
        ("ops", "app-mirror", "app-source", "a"): {"v": "a"},
        ("ops", "app-mirror", "app-source", "c"): {"v": "c"},
        ("ops", "other-mirror", "app-source", "a"): {"v": "other"},
    }
    state = writer.state(OWNER)
    assert (state.configured, state.pending, state.caught_up, state.connected, state.last_error) == (
        True,
        0,
        True,
        True,
        "",
    )
    assert state.last_success is not None
    assert state.message() == "database up to date"


def test_delete_all_removes_that_configmirrors_rows_only(
    make_writer: Callable[..., DatabaseWriter], db: Credentials
) -> None:
    writer = make_writer()
    writer.start()
    for owner in (OWNER, OTHER):
        writer.configure(owner, db)
        writer.upsert(owner, cm("a", v="1"))
        assert writer.wait_idle(owner, WAIT)
    writer.delete_all(OWNER)
    assert writer.wait_idle(OWNER, WAIT)
    assert list(contents(db)) == [("ops", "other-mirror", "app-source", "a")]


def test_without_credentials_changes_wait_for_them(
    make_writer: Callable[..., DatabaseWriter], db: Credentials
) -> None:
    writer = make_writer()
    writer.start()
    writer.configure(OWNER, None)
    writer.upsert(OWNER, cm("a", v="1"))
    assert not writer.wait_idle(OWNER, 0.2)
    assert writer.state(OWNER).message() == "waiting for database credentials; 1 changes pending"
    assert writer.configure(OWNER, db) is True
    assert writer.wait_idle(OWNER, WAIT)
    assert list(contents(db)) == [("ops", "app-mirror", "app-source", "a")]


def test_changed_credentials_reconnect_and_the_same_ones_do_not(
    make_writer: Callable[..., DatabaseWriter], pg_server: PgServer
) -> None:
    first, second = pg_server.create_database(), pg_server.create_database()
    writer = make_writer()
    writer.start()
    assert writer.configure(OWNER, first) is True
    assert writer.configure(OWNER, replace(first)) is False
    writer.upsert(OWNER, cm("a", v="1"))
    assert writer.wait_idle(OWNER, WAIT)
    assert writer.configure(OWNER, second) is True
    writer.upsert(OWNER, cm("a", v="2"))
    assert writer.wait_idle(OWNER, WAIT)
    assert list(contents(first).values()) == [{"v": "1"}]
    assert list(contents(second).values()) == [{"v": "2"}]


def test_forget_drops_what_was_pending(make_writer: Callable[..., DatabaseWriter]) -> None:
    table = Recorder()
    writer = make_writer(table_factory=lambda _: table)
    writer.configure(OWNER, FAKE)
    writer.upsert(OWNER, cm("a", v="1"))
    writer.forget(OWNER)
    assert writer.state(OWNER).pending == 0
    writer.start()
    assert writer.stop(WAIT)
    assert table.ops == []


def test_stop_writes_what_is_pending_first(
    make_writer: Callable[..., DatabaseWriter], db: Credentials
) -> None:
    writer = make_writer()
    writer.configure(OWNER, db)
    writer.start()
    for i in range(50):
        writer.upsert(OWNER, cm(f"cm-{i}", v=str(i)))
    assert writer.stop(WAIT)
    assert len(contents(db)) == 50


def test_a_wrong_password_shows_in_the_state_without_the_password(
    make_writer: Callable[..., DatabaseWriter], db: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "kubectl_mirror.watch")
    writer = make_writer()
    writer.configure(OWNER, replace(db, password="wrong-" + PASSWORD))
    writer.upsert(OWNER, cm("a", v="1"))
    writer.start()
    wait_for(lambda: writer.state(OWNER).last_error)
    state = writer.state(OWNER)
    assert (state.pending, state.caught_up, state.connected) == (1, False, False)
    assert "password authentication failed" in state.last_error
    assert PASSWORD not in state.message() and "\n" not in state.message()
    logged = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("database for ConfigMirror ops/app-mirror: PostgreSQL mirror@") for m in logged)
    assert not any(PASSWORD in m for m in logged)
    assert writer.configure(OWNER, db) is True  # fixed credentials: written at once
    assert writer.wait_idle(OWNER, WAIT)
    assert writer.state(OWNER).caught_up


def test_a_row_the_database_refuses_is_kept_and_does_not_hold_up_the_others(
    make_writer: Callable[..., DatabaseWriter], db: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "kubectl_mirror.watch")
    writer = make_writer()
    writer.configure(OWNER, db)
    writer.start()
    writer.upsert(OWNER, cm("bad", v="secret-value\x00"))  # jsonb refuses \u0000
    writer.upsert(OWNER, cm("good", v="1"))
    wait_for(
        lambda: writer.state(OWNER).last_error and ("ops", "app-mirror", "app-source", "good") in contents(db)
    )
    state = writer.state(OWNER)
    assert (state.pending, state.caught_up, state.connected) == (1, False, True)
    assert "secret-value" not in state.last_error and "save app-source/bad" in state.last_error
    assert caplog.records and not any("secret-value" in r.getMessage() for r in caplog.records)
    writer.upsert(OWNER, cm("bad", v="fixed"))  # the newer change replaces the refused one
    wait_for(lambda: writer.state(OWNER).caught_up)
    assert contents(db)[("ops", "app-mirror", "app-source", "bad")] == {"v": "fixed"}


def test_an_unexpected_error_keeps_the_batch_and_the_thread(
    make_writer: Callable[..., DatabaseWriter],
) -> None:
    table = Recorder()
    calls = iter([RuntimeError("boom"), None])

    def flaky(_: Credentials) -> Recorder:
        err = next(calls)
        if err is not None:
            raise err
        return table

    writer = make_writer(table_factory=flaky)
    writer.configure(OWNER, FAKE)
    writer.upsert(OWNER, cm("a", v="1"))
    writer.start()
    assert writer.wait_idle(OWNER, WAIT)
    assert table.ops == [("ensure",), ("upsert", "a", "1")]


def test_many_threads_queue_at_once_and_each_rows_last_change_wins(
    make_writer: Callable[..., DatabaseWriter], db: Credentials
) -> None:
    writer = make_writer()
    writer.configure(OWNER, db)
    writer.start()

    def work(t: int) -> None:
        for version in range(5):
            for i in range(20):
                writer.upsert(OWNER, cm(f"t{t}-{i}", v=str(version)))
            writer.delete(OWNER, "app-source", f"t{t}-0")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.wait_idle(OWNER, WAIT)
    expected = {
        ("ops", "app-mirror", "app-source", f"t{t}-{i}"): {"v": "4"} for t in range(4) for i in range(1, 20)
    }
    assert contents(db) == expected


def test_an_outage_loses_nothing(make_writer: Callable[..., DatabaseWriter], own_pg_server: PgServer) -> None:
    server = own_pg_server
    db = server.create_database()
    writer = make_writer()
    writer.configure(OWNER, db)
    writer.start()
    for name in ("a", "b", "c"):
        writer.upsert(OWNER, cm(name, v="before"))
    assert writer.wait_idle(OWNER, WAIT)

    server.stop()
    writer.upsert(OWNER, cm("a", v="during"))  # changed
    writer.delete(OWNER, "app-source", "b")  # deleted
    writer.delete(OWNER, "app-source", "c")
    writer.upsert(OWNER, cm("c", v="back"))  # deleted, then back
    for i in range(20):
        writer.upsert(OWNER, cm(f"new-{i}", v="during"))  # new
    writer.upsert(OTHER, cm("x", v="during"))
    writer.configure(OTHER, db)
    wait_for(lambda: writer.state(OWNER).last_error and writer.state(OTHER).last_error)

    state = writer.state(OWNER)
    assert (state.pending, state.caught_up, state.connected) == (23, False, False)
    assert state.message().startswith(
        "database behind: 23 changes pending, retrying; last error: PostgreSQL "
    )
    assert PASSWORD not in state.message() and "\n" not in state.message()
    assert not writer.wait_idle(OWNER, 0.2)  # still retrying, nothing dropped
    assert writer.state(OWNER).pending == 23

    server.start()
    assert writer.wait_idle(OWNER, WAIT) and writer.wait_idle(OTHER, WAIT)
    expected = {("ops", "app-mirror", "app-source", "a"): {"v": "during"}}
    expected[("ops", "app-mirror", "app-source", "c")] = {"v": "back"}
    expected.update({("ops", "app-mirror", "app-source", f"new-{i}"): {"v": "during"} for i in range(20)})
    expected[("ops", "other-mirror", "app-source", "x")] = {"v": "during"}
    assert contents(db) == expected
    state = writer.state(OWNER)
    assert (state.pending, state.caught_up, state.connected, state.last_error) == (0, True, True, "")
