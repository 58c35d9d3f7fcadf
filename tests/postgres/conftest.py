"""A real PostgreSQL server for these tests: initdb and pg_ctl in a temporary folder, on a free
port, with password authentication over TCP (so the password really is checked).

The binaries are looked up on PATH, then under /usr/lib/postgresql/*/bin (Debian's place; .ci/run
installs them there). initdb refuses to run as root, so as root the server runs as the
`postgres` account (or `nobody`) in a folder it owns. Tests that need the server skip with one
line when the binaries or psycopg are missing; the others run anyway.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubectl_mirror.io.postgres import Credentials, driver_missing

PASSWORD = "s3cret-pw+/x"  # characters a URI must percent-encode, on purpose
USER = "mirror"
_databases = itertools.count(1)


def find_binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: PATH first, then the newest Debian one."""
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).parent] if on_path else []
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    candidates += [Path(p) for p in versions if Path(p).parent.name.isdigit()]
    for folder in candidates:
        if all((folder / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PgServer:
    """One PostgreSQL cluster; `stop()` and `start()` may be called again and again."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="kubectl-mirror-pg-"))  # /tmp: reachable by `nobody`
        self._account = self._unprivileged_account() if os.geteuid() == 0 else None
        (self.root / "pw").write_text(PASSWORD + "\n")
        if self._account is not None:
            for path in (self.root, self.root / "pw"):
                os.chown(path, self._account.pw_uid, self._account.pw_gid)
        self._run("initdb", "-D", "data", "-U", USER, "--pwfile=pw", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C")  # fmt: skip
        self.running = False

    @staticmethod
    def _unprivileged_account() -> pwd.struct_passwd:
        for name in ("postgres", "nobody"):
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
        pytest.skip("running as root and neither a `postgres` nor a `nobody` account exists for initdb")

    def _run(self, tool: str, *args: str) -> None:
        kwargs: dict[str, Any] = {}
        if self._account is not None:
            kwargs.update(user=self._account.pw_uid, group=self._account.pw_gid, extra_groups=[])
        proc = subprocess.run(
            [str(self.bindir / tool), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            **kwargs,
        )
        if proc.returncode != 0:
            log = self.root / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {proc.stderr.strip()}\n{tail}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        self._run("pg_ctl", "-D", "data", "-l", "log", "-w", "-t", "60", "-o", options, "start")
        self.running = True

    def stop(self) -> None:
        self._run("pg_ctl", "-D", "data", "-m", "fast", "-w", "-t", "60", "stop")
        self.running = False

    def close(self) -> None:
        if self.running:
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def credentials(self, dbname: str = "postgres", *, password: str = PASSWORD) -> Credentials:
        return Credentials(
            host="127.0.0.1", port=self.port, user=USER, password=password, dbname=dbname, sslmode="disable"
        )

    def create_database(self) -> Credentials:
        import psycopg
        from psycopg import sql

        name = f"test_{os.getpid()}_{next(_databases)}"
        with psycopg.connect(**_conninfo(self.credentials()), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.credentials(name)


def _conninfo(c: Credentials) -> dict[str, Any]:
    return {
        "host": c.host,
        "port": c.port,
        "user": c.user,
        "password": c.password,
        "dbname": c.dbname,
        "sslmode": "disable",
    }


def query(credentials: Credentials, statement: str, *params: Any) -> list[dict[str, Any]]:
    """Run one statement as the tests' own client; rows as dicts (jsonb decoded by psycopg)."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(**_conninfo(credentials), autocommit=True, row_factory=dict_row) as conn:
        cur = conn.execute(statement.encode(), params or None)
        return cur.fetchall() if cur.description else []


def rows(credentials: Credentials) -> list[dict[str, Any]]:
    return query(
        credentials,
        "SELECT * FROM configmaps ORDER BY configmirror_namespace, configmirror_name, namespace, name",
    )


def _server() -> PgServer:
    missing = driver_missing()
    if missing:
        pytest.skip(missing)
    bindir = find_binaries()
    if bindir is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH or under /usr/lib/postgresql/*/bin"
        )
    server = PgServer(bindir)
    server.start()
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One server for the session; tests get their own database from `db`."""
    server = _server()
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def own_server() -> Iterator[PgServer]:
    """A server of its own (skipped without binaries or driver), removed afterwards."""
    server = _server()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def own_pg_server() -> Iterator[PgServer]:
    """A server of its own, for a test that stops and restarts it."""
    with own_server() as server:
        yield server


@pytest.fixture
def db(pg_server: PgServer) -> Credentials:
    """Credentials of a fresh, empty database."""
    return pg_server.create_database()
