"""Object names as file names: the one place where a name from an untrusted repository becomes a path.

`render --output-dir` and the KRM function both name a mirror's file after its namespace, kind and
name. Those come from input anyone with write access to a repository controls, so each is checked
here against Kubernetes' own rules before it is joined into a path, whatever the engine checked
before: a name that passes can hold no `/`, `\\`, `..`, NUL, newline or other control character.
Nothing here touches the file system.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from kubectl_mirror.engine import markers as m
from kubectl_mirror.errors import InputError, Ref

MAX_NAMESPACE = 63
MAX_KIND = 63
MAX_NAME = 253
MAX_FILE_NAME = 255  # bytes in one path component on Linux and macOS file systems

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# A CRD's kind, lowercased, must be a DNS-1035 label.
_KIND = re.compile(r"[A-Za-z]([-A-Za-z0-9]*[A-Za-z0-9])?")
# Other kinds: what Kubernetes accepts for path-segment names (RBAC's `system:aggregate-to-edit`,
# upper case), restricted to characters that mean nothing to a shell, YAML or a file system.
_OTHER_NAME = re.compile(r"[A-Za-z0-9._:@+~-]+")
SUBDOMAIN_KINDS = frozenset({"ConfigMap", "Secret"})

NAMESPACE_RULE = "a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters"
SUBDOMAIN_RULE = "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', at most 253 characters"
OTHER_RULE = "letters, digits and '-._:@+~', not '.' or '..', at most 253 characters"
KIND_RULE = "letters, digits and '-', starting with a letter, at most 63 characters"


def shown(value: object, limit: int = 80) -> str:
    """A value as it may appear in a one-line message: control characters escaped, bounded."""
    text = value if isinstance(value, str) else repr(value)
    cut = text[:limit]
    more = "..." if len(text) > limit else ""
    return (cut if cut.isprintable() and "\\" not in cut else repr(cut)[1:-1]) + more


def quoted(value: str, limit: int = 80) -> str:
    """`'value'` for a message: escaped by repr, bounded."""
    return repr(value[:limit]) + ("..." if len(value) > limit else "")


def safe_ref(obj: Any) -> Ref:
    """The object's Ref with every part shown safely, so the one-line error stays one line."""
    ref = Ref.of(obj)
    return Ref(
        api_version=shown(ref.api_version),
        kind=shown(ref.kind),
        namespace=shown(ref.namespace),
        name=shown(ref.name),
    )


def _of_source(obj: Any) -> str:
    """`(mirror of KIND NAMESPACE/NAME)`: which input to fix, when the mirror says."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(annotations, dict):
        return ""
    parts = [annotations.get(k) for k in (m.SOURCE_KIND, m.SOURCE_NAMESPACE, m.SOURCE_NAME)]
    if not all(isinstance(p, str) and p for p in parts):
        return ""
    kind, namespace, name = (shown(p, 63) for p in parts)
    return f" (mirror of {kind} {namespace}/{name})"


def _refuse(obj: Any, field: str, value: object, what: str, rule: str) -> InputError:
    if not isinstance(value, str):
        problem = "is required and must be a string"
    else:
        problem = f"{quoted(value)} is not a valid {what} ({rule})"
    return InputError(f"{problem}; it cannot name a file{_of_source(obj)}", safe_ref(obj), field)


def is_namespace(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_NAMESPACE and _LABEL.fullmatch(value) is not None


def is_kind(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_KIND and _KIND.fullmatch(value) is not None


def is_name(kind: str, value: object) -> bool:
    if not isinstance(value, str) or len(value) > MAX_NAME:
        return False
    if kind in SUBDOMAIN_KINDS:
        return _SUBDOMAIN.fullmatch(value) is not None
    return value not in (".", "..") and _OTHER_NAME.fullmatch(value) is not None


def group_of(obj: Any) -> str:
    """The API group of an object, `core` for the legacy group (as in ObjectKey)."""
    api_version = obj.get("apiVersion") if isinstance(obj, dict) else None
    return api_version.split("/", 1)[0] if isinstance(api_version, str) and "/" in api_version else "core"


def path_parts(obj: Any, *, qualify: bool = False) -> tuple[str, str, str]:
    """(namespace, lowercased kind, name) of a mirror, each checked; InputError names the field.

    With `qualify`, the kind of a non-core group is `kind.group` (`gateway.networking.istio.io`):
    for two kinds of one name in two groups, which would otherwise share a file."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    kind, namespace, name = obj.get("kind"), meta.get("namespace"), meta.get("name")
    if not is_kind(kind):
        raise _refuse(obj, "kind", kind, "kind", KIND_RULE)
    assert isinstance(kind, str)
    if not is_namespace(namespace):
        raise _refuse(obj, "metadata.namespace", namespace, "namespace name", NAMESPACE_RULE)
    if not is_name(kind, name):
        rule = SUBDOMAIN_RULE if kind in SUBDOMAIN_KINDS else OTHER_RULE
        raise _refuse(obj, "metadata.name", name, f"{kind} name", rule)
    assert isinstance(namespace, str) and isinstance(name, str)
    group = group_of(obj)
    if not qualify or group == "core":
        return namespace, kind.lower(), name
    if len(group) > MAX_NAME or _SUBDOMAIN.fullmatch(group) is None:
        raise _refuse(obj, "apiVersion", group, "API group", SUBDOMAIN_RULE)
    return namespace, f"{kind.lower()}.{group}", name


def ambiguous(mirrors: Iterable[Any]) -> frozenset[tuple[str, str, str]]:
    """(namespace, kind, name) triples (kind lowercased) that more than one API group shares
    among `mirrors`: their files need the group in their names (`path_parts(qualify=True)`)."""
    groups: dict[tuple[str, str, str], set[str]] = {}
    for obj in mirrors:
        groups.setdefault(_triple(obj), set()).add(group_of(obj))
    return frozenset(t for t, found in groups.items() if len(found) > 1)


def needs_group(obj: Any, shared: frozenset[tuple[str, str, str]]) -> bool:
    return _triple(obj) in shared


def _triple(obj: Any) -> tuple[str, str, str]:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    return str(meta.get("namespace")), str(obj.get("kind")).lower(), str(meta.get("name"))


KUSTOMIZATION_FILES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})


def is_kustomization(obj: Any, file: str) -> bool:
    """A kustomization file read as an input (kustomize needs neither apiVersion nor kind in it):
    never a source; the front doors keep it away from the engine."""
    if not isinstance(obj, dict):
        return False
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if api_version is not None and not str(api_version).startswith("kustomize.config.k8s.io/"):
        return False
    if kind in ("Kustomization", "Component"):
        return True
    return kind is None and file.replace("\\", "/").rpartition("/")[2] in KUSTOMIZATION_FILES


def file_component(obj: Any, stem: str) -> str:
    """`stem.yaml`, refused when longer than one path component may be."""
    file = f"{stem}.yaml"
    if len(file.encode()) > MAX_FILE_NAME:
        raise InputError(
            f"kind and name together make a file name of {len(file.encode())} bytes "
            f"(at most {MAX_FILE_NAME}){_of_source(obj)}",
            safe_ref(obj),
            "metadata.name",
        )
    return file
