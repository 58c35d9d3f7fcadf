"""ConfigMirror's PostgreSQL copy: the `configmaps` table, its credentials, and nothing else.

The one module that talks to psycopg (3), imported lazily so the package works without the
`postgres` extra; `driver_missing()` says what to install. It does not retry, queue or thread:
`kubectl_mirror.watch.database.DatabaseWriter` does that around a `ConfigMapTable`.

What the table holds is sarataha/configmirror-operator's, verified in its repository (the
`internal/database/postgres.go`, `internal/controller/configmirror_controller.go`,
`helm/configmirror-operator/templates/deployment.yaml` and README files, commits 0465095 and
7f058ee), so a database it filled keeps working:

- the DDL below, column for column (`TIMESTAMP` without time zone, `DEFAULT NOW()`), with its
  two indexes `idx_configmirror` and `idx_created_at`; made with `IF NOT EXISTS`, so an
  existing table is left as it is;
- one row per *source* ConfigMap a ConfigMirror selects, not per replica: `namespace` is the
  source's namespace, `data` its `data` (`binaryData` is not stored), `labels` and
  `annotations` the source's own (NULL when it has none), `configmirror_*` the ConfigMirror's;
- an upsert on the unique key that rewrites data, labels, annotations and sets
  `updated_at = NOW()`, leaving `id` and `created_at`; a row goes when its source stops being
  mirrored. The operator also deletes a ConfigMirror's rows in its finalizer (README).
- credentials: the operator's chart maps the Secret keys `host`, `port`, `username`,
  `password` and `dbname` (`database` in older versions) into its environment and connects
  with `sslmode=require`.

Where this differs, on purpose: an upsert whose content is unchanged writes nothing (the
operator bumped `updated_at` at every 5-minute resync, so there it meant "last seen"; here it is
"last changed"); a ConfigMap without data is stored as `{}` (the operator passed Go's nil map,
which pgx sends as NULL, into a NOT NULL column); the Secret may also use libpq's names (`user`,
`dbname`), `sslmode`, or one `uri`. The operator read its credentials from its Deployment's
environment, not from `spec.database.secretRef`; here that Secret is read, per ConfigMirror.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, LiteralString
from urllib.parse import unquote, urlsplit

from kubectl_mirror.errors import MirrorError, Ref, SpecError, printable

if TYPE_CHECKING:
    import psycopg

INSTALL = "pip install 'kubectl-mirror[postgres]'"
CONNECT_TIMEOUT = 5  # seconds: an unreachable server fails fast instead of holding the writer
TCP_USER_TIMEOUT_MS = 30_000  # a server that vanishes mid-statement (no RST) fails within this
STATEMENT_TIMEOUT_MS = 30_000
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Secret keys: the first name is libpq's, the second the operator chart's.
_ALIASES = {"user": ("user", "username"), "dbname": ("dbname", "database")}
KEYS = frozenset({"uri", "host", "port", "user", "username", "password", "dbname", "database", "sslmode"})

Owner = tuple[str, str]  # (ConfigMirror namespace, ConfigMirror name)

DDL = """
CREATE TABLE IF NOT EXISTS configmaps (
    id SERIAL PRIMARY KEY,
    name VARCHAR(253) NOT NULL,
    namespace VARCHAR(253) NOT NULL,
    data JSONB NOT NULL,
    labels JSONB,
    annotations JSONB,
    configmirror_name VARCHAR(253) NOT NULL,
    configmirror_namespace VARCHAR(253) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    UNIQUE(name, namespace, configmirror_namespace, configmirror_name)
);
CREATE INDEX IF NOT EXISTS idx_configmirror ON configmaps(configmirror_namespace, configmirror_name);
CREATE INDEX IF NOT EXISTS idx_created_at ON configmaps(created_at DESC);
"""

_UPSERT = """
INSERT INTO configmaps (name, namespace, data, labels, annotations,
                        configmirror_name, configmirror_namespace, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, NOW())
ON CONFLICT (name, namespace, configmirror_namespace, configmirror_name) DO UPDATE SET
    data = EXCLUDED.data, labels = EXCLUDED.labels, annotations = EXCLUDED.annotations,
    updated_at = NOW()
WHERE (configmaps.data, configmaps.labels, configmaps.annotations)
    IS DISTINCT FROM (EXCLUDED.data, EXCLUDED.labels, EXCLUDED.annotations)
"""

_DELETE = """
DELETE FROM configmaps
WHERE name = %s AND namespace = %s AND configmirror_namespace = %s AND configmirror_name = %s
"""

_DELETE_ALL = "DELETE FROM configmaps WHERE configmirror_namespace = %s AND configmirror_name = %s"


class DatabaseError(MirrorError):
    """A statement or connection failed. `connection` is true when the connection itself is
    gone or unusable (every other statement would fail too). Never holds a password or URI."""

    connection: bool = False


def driver_missing() -> str | None:
    """None when psycopg 3 can be used; otherwise one line saying what to install."""
    try:
        import psycopg  # noqa: F401
    except ImportError as err:
        why = "is not installed" if err.name == "psycopg" else f"cannot load ({printable(str(err))})"
        return f"PostgreSQL driver psycopg 3 {why}: {INSTALL}"
    return None


@dataclass(frozen=True)
class Credentials:
    """Where and how to connect. repr and `describe()` never show the password or the URI;
    equal credentials share a connection, changed ones reconnect."""

    host: str = ""
    port: int = 5432
    user: str = ""
    dbname: str = ""
    sslmode: str = ""
    password: str = field(default="", repr=False)
    uri: str = field(default="", repr=False)
    secret: Ref = field(default_factory=Ref, compare=False)  # where they were read

    def describe(self) -> str:
        """`user@host:port/dbname`, for messages."""
        if not self.uri:
            return f"{self.user}@{self.host}:{self.port}/{self.dbname or self.user}"
        try:
            parts = urlsplit(self.uri)
            port = parts.port or 5432
        except ValueError:
            return "<uri>"
        return f"{parts.username or ''}@{parts.hostname or ''}:{port}{parts.path or '/'}"

    def hidden(self) -> tuple[str, ...]:
        """Every string a message must not show: the password and the URI, as written and
        decoded (libpq echoes parts of a connection string it cannot parse)."""
        found = {self.password, self.uri, unquote(self.uri)}
        with contextlib.suppress(ValueError):
            password = urlsplit(self.uri).password or ""
            found.update({password, unquote(password)})
        return tuple(sorted((s for s in found if s), key=len, reverse=True))

    def redact(self, text: str) -> str:
        for value in self.hidden():
            text = text.replace(value, "***")
        return text


def credentials_from_secret(secret: Mapping[str, Any], ref: Ref | None = None) -> Credentials:
    """Read `uri`, or `host`, `port`, `user`/`username`, `password`, `dbname`/`database`,
    `sslmode` from a Secret's base64 `data` (and `stringData`, which wins, as on the API server).
    A `uri` makes the other keys unused except `sslmode`; without one, `host` and a user are
    required, `port` defaults to 5432, `dbname` to the user, `sslmode` to `require` (the
    operator's). Raises SpecError naming the Secret and the key."""
    ref = ref or _secret_ref(secret)
    values = _decoded(secret, ref)
    sslmode = _strip(values.get("sslmode", ("", "")))
    if sslmode and sslmode not in SSLMODES:
        raise SpecError(
            f"must be one of {', '.join(SSLMODES)}, got {sslmode!r}", ref, _where(values, "sslmode")
        )
    if "uri" in values:
        uri = _strip(values["uri"])
        if not uri.startswith(("postgresql://", "postgres://")):
            raise SpecError("must be a postgresql:// URI", ref, _where(values, "uri"))
        return Credentials(uri=uri, sslmode=sslmode, secret=ref)
    host = _required(values, "host", ref)
    user = _aliased(values, "user", ref)
    if not user:
        raise SpecError("is required (or `user`, or a `uri`)", ref, "data.username")
    return Credentials(
        host=host,
        port=_port(values, ref),
        user=user,
        dbname=_aliased(values, "dbname", ref),
        sslmode=sslmode or "require",
        password=values.get("password", ("", ""))[0],
        secret=ref,
    )


def _secret_ref(secret: Mapping[str, Any]) -> Ref:
    meta = secret.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return Ref("v1", "Secret", str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _decoded(secret: Mapping[str, Any], ref: Ref) -> dict[str, tuple[str, str]]:
    """key -> (value, the field path it came from)."""
    out: dict[str, tuple[str, str]] = {}
    for section, encoded in (("data", True), ("stringData", False)):
        entries = secret.get(section) or {}
        if not isinstance(entries, Mapping):
            raise SpecError("must be a mapping", ref, section)
        for key, raw in entries.items():
            if key not in KEYS:  # a CA file or a JDBC URL next to them is none of our business
                continue
            where = f"{section}.{key}"
            if not isinstance(raw, str):
                raise SpecError(f"must be a string, got {type(raw).__name__}", ref, where)
            value = _base64(raw, ref, where) if encoded else raw
            if "\x00" in value:
                raise SpecError("must not contain a NUL character", ref, where)
            out[str(key)] = (value, where)
    return out


def _base64(raw: str, ref: Ref, where: str) -> str:
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise SpecError("is not valid base64 of UTF-8 text", ref, where) from None


def _strip(entry: tuple[str, str]) -> str:
    return entry[0].strip()  # a trailing newline from `echo | base64` is a classic


def _where(values: Mapping[str, tuple[str, str]], key: str) -> str:
    return values[key][1] if key in values else f"data.{key}"


def _required(values: Mapping[str, tuple[str, str]], key: str, ref: Ref) -> str:
    value = _strip(values.get(key, ("", "")))
    if not value:
        raise SpecError("is required (or a `uri`)", ref, _where(values, key))
    return value


def _aliased(values: Mapping[str, tuple[str, str]], key: str, ref: Ref) -> str:
    found = {name: _strip(values[name]) for name in _ALIASES[key] if name in values}
    if len(set(found.values())) > 1:
        first, second = (values[name][1] for name in found)
        raise SpecError(f"differs from {second}: keep one of them", ref, first)
    return next(iter(found.values()), "")


def _port(values: Mapping[str, tuple[str, str]], ref: Ref) -> int:
    text = _strip(values.get("port", ("5432", "")))
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise SpecError(f"must be a port number, got {text!r}", ref, _where(values, "port"))
    return int(text)


@dataclass(frozen=True, slots=True)
class RowKey:
    """The table's unique key."""

    configmirror_namespace: str
    configmirror_name: str
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class Row:
    key: RowKey
    data: Mapping[str, str]
    labels: Mapping[str, str] | None
    annotations: Mapping[str, str] | None


def row_of(owner: Owner, configmap: Mapping[str, Any]) -> Row:
    """The row of `configmap` (the source, as the operator stored it) for ConfigMirror `owner`."""
    meta = configmap.get("metadata") or {}
    key = RowKey(owner[0], owner[1], str(meta.get("namespace", "")), str(meta.get("name", "")))
    return Row(
        key=key,
        data=dict(configmap.get("data") or {}),
        labels=dict(meta["labels"]) if meta.get("labels") else None,
        annotations=dict(meta["annotations"]) if meta.get("annotations") else None,
    )


class ConfigMapTable:
    """The `configmaps` table of one database over one connection, opened on first use and
    reopened after a failure. Not thread-safe: one thread owns it (the writer's)."""

    def __init__(self, credentials: Credentials, *, connect_timeout: int = CONNECT_TIMEOUT) -> None:
        self.credentials = credentials
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection[Any] | None = None

    def ensure_table(self) -> None:
        """Create the table and its indexes when missing; an existing table is left alone."""
        self._run("create table configmaps", DDL, None)

    def upsert(self, row: Row) -> None:
        from psycopg.types.json import Jsonb

        k = row.key
        params = (k.name, k.namespace, Jsonb(dict(row.data)), _jsonb(row.labels), _jsonb(row.annotations))
        self._run(
            f"save {k.namespace}/{k.name}", _UPSERT, (*params, k.configmirror_name, k.configmirror_namespace)
        )

    def delete(self, key: RowKey) -> None:
        params = (key.name, key.namespace, key.configmirror_namespace, key.configmirror_name)
        self._run(f"delete {key.namespace}/{key.name}", _DELETE, params)

    def delete_all(self, owner: Owner) -> None:
        self._run(f"delete the rows of ConfigMirror {owner[0]}/{owner[1]}", _DELETE_ALL, owner)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _run(self, what: str, sql: LiteralString, params: tuple[Any, ...] | None) -> None:
        import psycopg

        try:
            conn = self._connection()
            conn.execute(sql, params)
        except psycopg.Error as err:
            lost = self._conn is None or self._conn.broken or self._conn.closed
            if lost or isinstance(err, psycopg.OperationalError | psycopg.InterfaceError):
                self.close()
            raise self._error(what, err, connection=lost) from None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            import psycopg

            self.close()
            self._conn = psycopg.connect(self.credentials.uri, autocommit=True, **self._options())
        return self._conn

    def _options(self) -> dict[str, Any]:
        c = self.credentials
        opts: dict[str, Any] = {
            "connect_timeout": self.connect_timeout,
            "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            "application_name": "kubectl-mirror",
        }
        if not c.uri:
            opts.update(host=c.host, port=c.port, user=c.user, password=c.password, dbname=c.dbname or c.user)
        if c.sslmode:
            opts["sslmode"] = c.sslmode
        return opts

    def _error(self, what: str, err: Exception, *, connection: bool) -> DatabaseError:
        """One line, no secret, no ConfigMap content: libpq's first line only (DETAIL lines can
        quote values), with the password and URI cut out."""
        lines = str(err).strip().splitlines() or [type(err).__name__]
        message = f"PostgreSQL {self.credentials.describe()}: {what}: {self.credentials.redact(lines[0])}"
        error = DatabaseError(printable(message), self.credentials.secret)
        error.connection = connection
        return error


def _jsonb(value: Mapping[str, str] | None) -> Any:
    from psycopg.types.json import Jsonb

    return None if value is None else Jsonb(dict(value))
