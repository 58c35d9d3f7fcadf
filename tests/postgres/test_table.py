"""The `configmaps` table against a real PostgreSQL: the operator's columns, rows and keys."""

from __future__ import annotations

import datetime
from dataclasses import replace
from typing import Any

import pytest

from kubectl_mirror.io.postgres import ConfigMapTable, Credentials, DatabaseError, RowKey, row_of

from .conftest import PASSWORD, PgServer, query, rows

OWNER = ("ops", "app-mirror")


def configmap(name: str = "app-config", namespace: str = "app-source", **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    meta.update({k: v for k, v in fields.items() if k in ("labels", "annotations")})
    cm: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    if "data" in fields:
        cm["data"] = fields["data"]
    return cm


@pytest.fixture
def table(db: Credentials) -> Any:
    t = ConfigMapTable(db)
    t.ensure_table()
    yield t
    t.close()


def test_table_is_created_with_the_operators_columns_keys_and_indexes(db: Credentials) -> None:
    t = ConfigMapTable(db)
    t.ensure_table()
    t.close()
    columns = query(
        db,
        "SELECT column_name, data_type, is_nullable, column_default, character_maximum_length "
        "FROM information_schema.columns WHERE table_name = 'configmaps' ORDER BY ordinal_position",
    )
    assert [
        (c["column_name"], c["data_type"], c["is_nullable"], c["character_maximum_length"]) for c in columns
    ] == [
        ("id", "integer", "NO", None),
        ("name", "character varying", "NO", 253),
        ("namespace", "character varying", "NO", 253),
        ("data", "jsonb", "NO", None),
        ("labels", "jsonb", "YES", None),
        ("annotations", "jsonb", "YES", None),
        ("configmirror_name", "character varying", "NO", 253),
        ("configmirror_namespace", "character varying", "NO", 253),
        ("created_at", "timestamp without time zone", "NO", None),
        ("updated_at", "timestamp without time zone", "NO", None),
    ]
    defaults = {c["column_name"]: c["column_default"] for c in columns}
    assert defaults["id"].startswith("nextval(")  # SERIAL
    assert defaults["created_at"] == defaults["updated_at"] == "now()"
    indexes = {
        r["indexname"]: r["indexdef"]
        for r in query(db, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'configmaps'")
    }
    assert indexes["configmaps_pkey"].endswith("USING btree (id)")
    unique = [d for d in indexes.values() if d.startswith("CREATE UNIQUE INDEX") and not d.endswith("(id)")]
    assert [d.split(" USING ")[1] for d in unique] == [
        "btree (name, namespace, configmirror_namespace, configmirror_name)"
    ]
    assert indexes["idx_configmirror"].endswith("USING btree (configmirror_namespace, configmirror_name)")
    assert indexes["idx_created_at"].endswith("USING btree (created_at DESC)")


def test_an_existing_table_is_left_alone(db: Credentials) -> None:
    query(
        db,
        "CREATE TABLE configmaps (id SERIAL PRIMARY KEY, name VARCHAR(253) NOT NULL, namespace VARCHAR(253) NOT NULL, "
        "data JSONB NOT NULL, labels JSONB, annotations JSONB, configmirror_name VARCHAR(253) NOT NULL, "
        "configmirror_namespace VARCHAR(253) NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT NOW(), "
        "updated_at TIMESTAMP NOT NULL DEFAULT NOW(), note TEXT, "
        "UNIQUE(name, namespace, configmirror_namespace, configmirror_name))",
    )
    query(
        db,
        "INSERT INTO configmaps (name, namespace, data, configmirror_name, configmirror_namespace, note) VALUES ('old', 'ns', '{}', 'm', 'ops', 'kept')",
    )
    t = ConfigMapTable(db)
    t.ensure_table()
    t.ensure_table()  # twice: nothing happens either
    t.upsert(row_of(OWNER, configmap(data={"k": "v"})))
    t.close()
    assert [(r["name"], r["note"]) for r in rows(db)] == [("app-config", None), ("old", "kept")]


def test_an_upsert_inserts_every_column_as_the_operator_did(table: ConfigMapTable, db: Credentials) -> None:
    cm = configmap(
        data={"config.yaml": "key: value\n", "env": "production"},
        labels={"app": "myapp", "replicate": "true"},
        annotations={"team": "platform"},
    )
    table.upsert(row_of(OWNER, cm))
    [row] = rows(db)
    assert isinstance(row["id"], int)
    assert {k: v for k, v in row.items() if k not in ("id", "created_at", "updated_at")} == {
        "name": "app-config",
        "namespace": "app-source",  # the source's namespace: one row per source, not per replica
        "data": {"config.yaml": "key: value\n", "env": "production"},
        "labels": {"app": "myapp", "replicate": "true"},
        "annotations": {"team": "platform"},
        "configmirror_name": "app-mirror",
        "configmirror_namespace": "ops",
    }
    assert isinstance(row["created_at"], datetime.datetime) and row["created_at"].tzinfo is None
    assert row["created_at"] == row["updated_at"]


def test_no_labels_or_annotations_are_null_and_no_data_is_an_empty_object(
    table: ConfigMapTable, db: Credentials
) -> None:
    table.upsert(row_of(OWNER, configmap(labels={}, annotations={})))
    [row] = rows(db)
    assert (row["data"], row["labels"], row["annotations"]) == ({}, None, None)


def test_an_update_keeps_id_and_created_at_and_moves_updated_at(
    table: ConfigMapTable, db: Credentials
) -> None:
    table.upsert(row_of(OWNER, configmap(data={"k": "1"}, labels={"a": "1"})))
    [before] = rows(db)
    table.upsert(row_of(OWNER, configmap(data={"k": "2"}, annotations={"b": "2"})))
    [after] = rows(db)
    assert (after["id"], after["created_at"]) == (before["id"], before["created_at"])
    assert after["updated_at"] > before["updated_at"]
    assert (after["data"], after["labels"], after["annotations"]) == ({"k": "2"}, None, {"b": "2"})


def test_an_unchanged_upsert_writes_nothing(table: ConfigMapTable, db: Credentials) -> None:
    row = row_of(OWNER, configmap(data={"k": "1"}))
    table.upsert(row)
    [before] = rows(db)
    table.upsert(row)
    assert rows(db) == [before]


def test_rows_are_unique_per_name_namespace_and_configmirror(table: ConfigMapTable, db: Credentials) -> None:
    table.upsert(row_of(OWNER, configmap(data={"who": "first"})))
    table.upsert(row_of(("ops", "other-mirror"), configmap(data={"who": "other mirror"})))
    table.upsert(row_of(("team", "app-mirror"), configmap(data={"who": "other namespace's mirror"})))
    table.upsert(row_of(OWNER, configmap(namespace="elsewhere", data={"who": "other source namespace"})))
    table.upsert(row_of(OWNER, configmap(data={"who": "first, updated"})))
    got = [
        (r["configmirror_namespace"], r["configmirror_name"], r["namespace"], r["name"], r["data"]["who"])
        for r in rows(db)
    ]
    assert got == [
        ("ops", "app-mirror", "app-source", "app-config", "first, updated"),
        ("ops", "app-mirror", "elsewhere", "app-config", "other source namespace"),
        ("ops", "other-mirror", "app-source", "app-config", "other mirror"),
        ("team", "app-mirror", "app-source", "app-config", "other namespace's mirror"),
    ]


def test_delete_removes_exactly_one_row_and_a_missing_row_is_no_error(
    table: ConfigMapTable, db: Credentials
) -> None:
    table.upsert(row_of(OWNER, configmap("a")))
    table.upsert(row_of(OWNER, configmap("b")))
    table.upsert(row_of(("ops", "other-mirror"), configmap("a")))
    table.delete(RowKey("ops", "app-mirror", "app-source", "a"))
    table.delete(RowKey("ops", "app-mirror", "app-source", "never-there"))
    assert [(r["configmirror_name"], r["name"]) for r in rows(db)] == [
        ("app-mirror", "b"),
        ("other-mirror", "a"),
    ]


def test_delete_all_removes_only_that_configmirrors_rows(table: ConfigMapTable, db: Credentials) -> None:
    for owner in (OWNER, ("ops", "other-mirror"), ("team", "app-mirror")):
        table.upsert(row_of(owner, configmap("a")))
        table.upsert(row_of(owner, configmap("b", namespace="elsewhere")))
    table.delete_all(OWNER)
    assert sorted({(r["configmirror_namespace"], r["configmirror_name"]) for r in rows(db)}) == [
        ("ops", "other-mirror"),
        ("team", "app-mirror"),
    ]


def test_values_are_parameters_never_sql(table: ConfigMapTable, db: Credentials) -> None:
    evil = "x'); DROP TABLE configmaps; --"
    table.upsert(row_of((evil, evil), configmap(evil, evil, data={evil: evil}, labels={evil: evil})))
    [row] = rows(db)
    assert (row["name"], row["namespace"], row["configmirror_name"], row["data"]) == (
        evil,
        evil,
        evil,
        {evil: evil},
    )


def test_a_wrong_password_fails_on_one_line_without_the_password(
    pg_server: PgServer, db: Credentials
) -> None:
    wrong = replace(db, password="not-the-" + PASSWORD)
    t = ConfigMapTable(wrong)
    with pytest.raises(DatabaseError) as caught:
        t.ensure_table()
    message = caught.value.one_line()
    assert caught.value.connection
    assert "\n" not in message and PASSWORD not in message
    assert message.startswith(
        f"PostgreSQL mirror@127.0.0.1:{pg_server.port}/{db.dbname}: create table configmaps: "
    )
    assert "password authentication failed" in message


def test_a_uri_connects_and_its_password_never_shows(pg_server: PgServer, db: Credentials) -> None:
    encoded = PASSWORD.replace("+", "%2B").replace("/", "%2F")
    uri = f"postgresql://mirror:{encoded}@127.0.0.1:{pg_server.port}/{db.dbname}?sslmode=disable"
    t = ConfigMapTable(Credentials(uri=uri))
    t.ensure_table()
    t.upsert(row_of(OWNER, configmap()))
    t.close()
    assert len(rows(db)) == 1
    bad = ConfigMapTable(Credentials(uri=uri.replace(db.dbname, "no_such_db")))
    with pytest.raises(DatabaseError) as caught:
        bad.ensure_table()
    message = caught.value.one_line()
    assert "no_such_db" in message and encoded not in message and PASSWORD not in message
