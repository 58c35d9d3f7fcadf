"""Credentials read from the Secret a ConfigMirror names; the driver check. No server needed."""

from __future__ import annotations

import base64
import subprocess
import sys
from typing import Any

import pytest

from kubectl_mirror.errors import Ref, SpecError
from kubectl_mirror.io.postgres import Credentials, credentials_from_secret, driver_missing

PASSWORD = "hunter2-Zq9"
SECRET_REF = Ref("v1", "Secret", "configmirror-system", "rds-credentials")


def secret(string_data: dict[str, Any] | None = None, **data: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "rds-credentials", "namespace": "configmirror-system"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
    if string_data is not None:
        out["stringData"] = string_data
    return out


def test_the_operator_charts_keys_are_read() -> None:
    creds = credentials_from_secret(
        secret(host="db.example.com", port="6432", username="app", password=PASSWORD, dbname="configmirror")
    )
    assert (creds.host, creds.port, creds.user, creds.password, creds.dbname) == (
        "db.example.com", 6432, "app", PASSWORD, "configmirror",
    )  # fmt: skip
    assert creds.sslmode == "require"  # the operator connected with sslmode=require
    assert creds.secret == SECRET_REF


def test_older_charts_database_key_and_libpq_names_are_read_too() -> None:
    older = credentials_from_secret(secret(host="h", username="app", password="p", database="cm"))
    libpq = credentials_from_secret(
        secret(host="h", user="app", password="p", dbname="cm", sslmode="verify-full")
    )
    assert (older.user, older.dbname, older.port) == ("app", "cm", 5432)
    assert (libpq.user, libpq.dbname, libpq.sslmode) == ("app", "cm", "verify-full")


def test_values_lose_a_trailing_newline_but_the_password_is_kept_as_written() -> None:
    creds = credentials_from_secret(secret(host="h\n", port="5432\n", username="app\n", password=" pw \n"))
    assert (creds.host, creds.port, creds.user, creds.password) == ("h", 5432, "app", " pw \n")


def test_keys_it_does_not_read_are_not_decoded() -> None:
    other = secret(host="h", user="u")
    other["data"]["ca.crt"] = base64.b64encode(b"\xff\xfe binary").decode()
    other["data"]["jdbc-uri"] = "not base64 at all!"
    assert credentials_from_secret(other).host == "h"


def test_string_data_wins_over_data() -> None:
    creds = credentials_from_secret(secret({"host": "from-string-data"}, host="from-data", user="u"))
    assert creds.host == "from-string-data"


def test_a_uri_is_used_whole() -> None:
    uri = f"postgresql://app:{PASSWORD}@db:5432/cm?sslmode=verify-full"
    creds = credentials_from_secret(secret(uri=uri, host="ignored"))
    assert (creds.uri, creds.host, creds.sslmode) == (uri, "", "")
    assert creds.describe() == "app@db:5432/cm"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"username": "u"}, "data.host", "is required (or a `uri`)"),
        ({"host": "h"}, "data.username", "is required (or `user`, or a `uri`)"),
        ({"host": "h", "user": "u", "port": "54x"}, "data.port", "must be a port number, got '54x'"),
        ({"host": "h", "user": "u", "port": "70000"}, "data.port", "must be a port number, got '70000'"),
        (
            {"host": "h", "user": "u", "sslmode": "on"},
            "data.sslmode",
            "must be one of disable, allow, prefer, require, verify-ca, verify-full, got 'on'",
        ),
        (
            {"host": "h", "user": "a", "username": "b"},
            "data.user",
            "differs from data.username: keep one of them",
        ),
        ({"uri": "mysql://u@h/db"}, "data.uri", "must be a postgresql:// URI"),
        ({"host": "h\x00", "user": "u"}, "data.host", "must not contain a NUL character"),
    ],
)
def test_a_bad_or_missing_key_names_the_secret_and_the_key(
    data: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        credentials_from_secret(secret(**data))
    assert (caught.value.ref, caught.value.field_path, caught.value.message) == (SECRET_REF, field, message)
    assert caught.value.one_line() == f"Secret configmirror-system/rds-credentials: {field}: {message}"


def test_invalid_base64_names_the_key_and_not_its_value() -> None:
    bad = secret(host="h", user="u")
    bad["data"]["password"] = "not base64!"
    with pytest.raises(SpecError) as caught:
        credentials_from_secret(bad)
    assert (
        caught.value.one_line()
        == "Secret configmirror-system/rds-credentials: data.password: is not valid base64 of UTF-8 text"
    )


def test_a_given_ref_is_what_errors_name() -> None:
    ref = Ref("v1", "Secret", "elsewhere", "db")
    with pytest.raises(SpecError) as caught:
        credentials_from_secret({"data": {}}, ref)
    assert caught.value.ref == ref


def test_repr_str_and_describe_never_show_the_password_or_the_uri() -> None:
    keys = credentials_from_secret(secret(host="h", user="u", password=PASSWORD))
    uri = credentials_from_secret(secret(uri=f"postgresql://u:{PASSWORD}@h/db"))
    for creds in (keys, uri):
        for text in (repr(creds), str(creds), creds.describe(), f"{creds}", f"{creds!r}"):
            assert PASSWORD not in text and "postgresql://" not in text
    assert "host='h'" in repr(keys)


def test_redact_cuts_the_password_as_written_and_percent_encoded() -> None:
    creds = Credentials(uri="postgresql://u:p%2Fw0rd@h/db")
    assert creds.redact('bad "postgresql://u:p%2Fw0rd@h/db" or p/w0rd') == 'bad "***" or ***'


def test_changed_credentials_are_not_equal_and_the_same_ones_are() -> None:
    a = credentials_from_secret(secret(host="h", user="u", password="one"))
    assert a == credentials_from_secret(secret(host="h", user="u", password="one"))
    assert a != credentials_from_secret(secret(host="h", user="u", password="two"))


def test_driver_missing_is_none_with_psycopg_installed() -> None:
    pytest.importorskip("psycopg")
    assert driver_missing() is None


def test_driver_missing_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # makes `import psycopg` fail as if absent
    assert (
        driver_missing()
        == "PostgreSQL driver psycopg 3 is not installed: pip install 'kubectl-mirror[postgres]'"
    )


def test_the_package_imports_without_loading_psycopg() -> None:
    code = (
        "import sys, kubectl_mirror.io.postgres, kubectl_mirror.watch.database; "
        "assert 'psycopg' not in sys.modules, 'psycopg imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
