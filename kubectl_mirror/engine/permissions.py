"""What a user must be allowed to do to ask kubectl-mirror for a source, a pull or a policy.

The controller writes with its own wide rights, so the admission policies in
`deploy/components/admission/` check the *requesting user's* rights instead: `create` of the kind
in every namespace a source names, `create` in every namespace for a pattern, `get` on what a
pull or a MirrorPolicy reads. This module is their twin for `kubectl mirror can-i`: the same
reduction of an object to tokens, the same rule that only what a change adds is checked. It
follows the CEL there line by line, not the engine's readers, so that both always give the same
answer; where the two differ from what the engine would render, they are stricter (every
dialect's markers count, even when another dialect wins; an entry that is not a valid namespace
name counts as a pattern).

Tokens, for one object:
  n:<ns>          an explicit target namespace            -> create there
  p:<dialect>:<e> a pattern (glob, regex, *, all, labeled, a selector) -> create everywhere
  x:<dialect>:<e> a pattern that narrows the targets      (removing one widens them)
  g:<ns>/<name>   a pull request                          -> get on that object
MirrorPolicy tokens carry the kind after the letter (n:<Kind>:<ns>, ...), and s:<Kind>:<ns> for
the source namespace it reads (get there); a MirrorPolicy changed to copy something else (source
namespace, names, selector) or to write something else of it (transform, transformStrict,
strategy) is judged as a new one, so none of its old tokens count.
ConfigMapSync and ConfigMirror (other-tools-policy.yaml) have no patterns, so they are compared
field by field instead of as tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kubectl_mirror.engine.dialects import (
    configmapsync,
    configmirror,
    kubed,
    kubemirror,
    mirrorverse,
    reflector,
    replicator,
)
from kubectl_mirror.engine.model import Obj
from kubectl_mirror.engine.policy import is_policy

# The controller's identity in deploy/: every policy exempts it (it fills pulls and other tools'
# finalizers with its own rights; it has no right to change a MirrorPolicy, only its status).
CONTROLLER_USER = "system:serviceaccount:kubectl-mirror-system:kubectl-mirror"

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SEPARATORS = re.compile(r"[\t\n\r\f\v, ]")
_NATIVE_SOURCE = "kubectl-mirror.io/source"
_NATIVE_TARGETS = "kubectl-mirror.io/targets"
_NATIVE_EXCLUDE = "kubectl-mirror.io/exclude"
_NATIVE_SELECTOR = "kubectl-mirror.io/target-selector"
_REPLICATOR_KINDS = ("Secret", "ConfigMap", "Role", "RoleBinding", "ServiceAccount")
_SECRET_CONFIGMAP = ("Secret", "ConfigMap")

# Kinds a MirrorPolicy may name -> (group, resource). Any other kind is checked as its lowercase
# plural in every group ("*"), which fails closed when the real plural differs.
POLICY_RESOURCES: Mapping[str, tuple[str, str]] = {
    "ConfigMap": ("", "configmaps"),
    "Secret": ("", "secrets"),
    "ServiceAccount": ("", "serviceaccounts"),
    "Service": ("", "services"),
    "PersistentVolumeClaim": ("", "persistentvolumeclaims"),
    "LimitRange": ("", "limitranges"),
    "ResourceQuota": ("", "resourcequotas"),
    "PodTemplate": ("", "podtemplates"),
    "Deployment": ("apps", "deployments"),
    "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"),
    "CronJob": ("batch", "cronjobs"),
    "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
    "Ingress": ("networking.k8s.io", "ingresses"),
    "PodDisruptionBudget": ("policy", "poddisruptionbudgets"),
    "HorizontalPodAutoscaler": ("autoscaling", "horizontalpodautoscalers"),
    "Role": ("rbac.authorization.k8s.io", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io", "rolebindings"),
}

# How much one change may ask: an authorizer check costs 350,000 of the 10,000,000 CEL cost units
# the API server lets one admission request spend, so the policies check a bounded number and
# refuse a change that asks for more (the user adds targets in steps). Same numbers in the YAML.
MAX_TARGETS_PER_CHANGE = 20
MAX_POLICY_TARGETS_PER_CHANGE = 12  # kind and namespace pairs
MAX_POLICY_KINDS_EVERYWHERE = 5  # kinds answered by one cluster-wide check each
MAX_POLICY_SOURCES_PER_CHANGE = 6

Verb = Literal["create", "get", "list"]
Everywhere = Callable[[str, str], bool]  # (group, resource) -> may create it in every namespace


@dataclass(frozen=True, order=True)
class Check:
    """One permission the requesting user must hold. `namespace` "" means every namespace."""

    verb: Verb
    group: str
    resource: str
    namespace: str
    name: str = ""
    # What asks for it: "target", "pattern", "pull", "policy source" or "database secret".
    why: str = ""

    def describe(self) -> str:
        what = f"{self.verb} {self.resource}" + (f".{self.group}" if self.group else "")
        if self.name:
            return f"{what} {self.namespace}/{self.name}"
        return f"{what} in {self.namespace}" if self.namespace else f"{what} in every namespace"


def _is_name(entry: str) -> bool:
    return _NAME.fullmatch(entry) is not None


def _lower_ascii(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def _on(markers: Mapping[str, Any], key: str) -> bool:
    value = markers.get(key)
    return isinstance(value, str) and _lower_ascii(value.strip()) == "true"


def _entries(markers: Mapping[str, Any], key: str) -> list[str]:
    value = markers.get(key)
    return [e for e in _SEPARATORS.split(value)] if isinstance(value, str) else []


def _list(markers: Mapping[str, Any], key: str) -> list[str]:
    return [e for e in _entries(markers, key) if e]


def _text(markers: Mapping[str, Any], key: str) -> str:
    value = markers.get(key)
    return value.strip() if isinstance(value, str) else ""


def _map(obj: Obj, field: str) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    value = meta.get(field) if isinstance(meta, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def source_tokens(obj: Obj, *, kind: str, namespace: str) -> list[str]:
    """The tokens of one namespaced object (sources-policy.yaml, variable `tokens`)."""
    labels, ann = _map(obj, "labels"), _map(obj, "annotations")
    return (
        _native(labels, ann, namespace)
        + _mirrorverse(labels, kind, namespace)
        + _kubemirror(labels, ann, namespace)
        + _reflector(ann, kind, namespace)
        + _replicator(ann, kind, namespace)
        + _kubed(ann, kind)
        + _pulls(ann, kind)
    )


def _split_names(
    entries: list[str],
    namespace: str,
    dialect: str,
    exclude: Iterable[str] = (),
    keywords: tuple[str, ...] = (),
) -> list[str]:
    """Names become n: tokens, anything else (keywords too, though shaped like names) p: tokens."""
    skip = set(exclude)
    names = [
        f"n:{e}" for e in entries if _is_name(e) and e not in keywords and e not in skip and e != namespace
    ]
    return names + [f"p:{dialect}:{e}" for e in entries if not _is_name(e) or e in keywords]


def _native(labels: Mapping[str, Any], ann: Mapping[str, Any], namespace: str) -> list[str]:
    if not _on(labels, _NATIVE_SOURCE):
        return []
    exclude = _list(ann, _NATIVE_EXCLUDE)
    selector = _text(ann, _NATIVE_SELECTOR)
    return (
        _split_names(_list(ann, _NATIVE_TARGETS), namespace, "native", exclude, ("labeled",))
        + ([f"p:native-selector:{selector}"] if selector else [])
        + [f"x:native:{e}" for e in exclude if not _is_name(e) or e == "labeled"]
    )


def _mirrorverse(labels: Mapping[str, Any], kind: str, namespace: str) -> list[str]:
    if kind not in _SECRET_CONFIGMAP or not _on(labels, mirrorverse.SYNC_SOURCE):
        return []

    def names(key: str) -> list[str]:
        value = labels.get(key)
        return [e for e in value.split("_") if e] if isinstance(value, str) else []

    return _split_names(names(mirrorverse.TARGETS), namespace, "mirrorverse", names(mirrorverse.EXCLUDE))


def _kubemirror(labels: Mapping[str, Any], ann: Mapping[str, Any], namespace: str) -> list[str]:
    if not (
        _on(labels, kubemirror.ENABLED) and _on(ann, kubemirror.SYNC) and not _on(ann, kubemirror.EXCLUDE)
    ):
        return []
    entries = _list(ann, kubemirror.TARGET_NAMESPACES)
    return _split_names(entries, namespace, "kubemirror", keywords=("all", "all-labeled"))


def _reflector(ann: Mapping[str, Any], kind: str, namespace: str) -> list[str]:
    push = (
        kind in _SECRET_CONFIGMAP
        and _on(ann, reflector.ALLOWED)
        and _on(ann, reflector.AUTO_ENABLED)
        and reflector.REFLECTS not in ann
    )
    if not push:
        return []
    auto, auto_selector = _list(ann, reflector.AUTO_NAMESPACES), _text(ann, reflector.AUTO_SELECTOR)
    allowed, allowed_selector = (
        _list(ann, reflector.ALLOWED_NAMESPACES),
        _text(ann, reflector.ALLOWED_SELECTOR),
    )
    if not allowed_selector and allowed and all(_is_name(e) for e in allowed):
        # Only the allowed names can receive auto mirrors (and only those the auto list names,
        # when it is plain names too).
        auto_names_only = not auto_selector and auto and all(_is_name(e) for e in auto)
        chosen = [e for e in auto if e in allowed] if auto_names_only else allowed
        return [f"n:{e}" for e in chosen if e != namespace]
    return (
        _split_names(auto, namespace, "reflector")
        + ([f"p:reflector-selector:{auto_selector}"] if auto_selector else [])
        + (["p:reflector:*"] if not auto and not auto_selector else [])
        + [f"x:reflector:{e}" for e in allowed]
        + ([f"x:reflector-selector:{allowed_selector}"] if allowed_selector else [])
    )


def _replicator(ann: Mapping[str, Any], kind: str, namespace: str) -> list[str]:
    push = (
        kind in _REPLICATOR_KINDS
        and replicator.REPLICATE_FROM not in ann
        and (replicator.REPLICATE_TO in ann or replicator.REPLICATE_TO_MATCHING in ann)
    )
    if not push:
        return []
    selector = _text(ann, replicator.REPLICATE_TO_MATCHING)
    return _split_names(_list(ann, replicator.REPLICATE_TO), namespace, "replicator") + (
        [f"p:replicator-selector:{selector}"] if selector else []
    )


def _kubed(ann: Mapping[str, Any], kind: str) -> list[str]:
    """config-syncer's `sync` is a namespace selector, or empty (or "true") for every namespace:
    never a name, so always a pattern."""
    if kind not in _SECRET_CONFIGMAP or kubed.SYNC not in ann:
        return []
    value = _text(ann, kubed.SYNC)
    return [f"p:kubed:{'*' if value == '' or _lower_ascii(value) == 'true' else value}"]


def _pulls(ann: Mapping[str, Any], kind: str) -> list[str]:
    refs = []
    if kind in _SECRET_CONFIGMAP and reflector.REFLECTS in ann:
        refs.append(_text(ann, reflector.REFLECTS))
    if kind in _REPLICATOR_KINDS and replicator.REPLICATE_FROM in ann:
        refs.append(_text(ann, replicator.REPLICATE_FROM))
    return [f"g:{r}" for r in refs if 0 < r.find("/") < len(r) - 1]


def checks(new: Obj, old: Obj | None, *, group: str, resource: str, namespace: str) -> list[Check]:
    """What creating `new` (or changing `old` into it) requires of the requesting user; `group`
    and `resource` are what the API server serves `new` as, `namespace` where it lives."""
    if is_policy(new):
        return policy_checks(new, old)
    if configmapsync.is_resource(new):
        return configmapsync_checks(new, old)
    if configmirror.is_resource(new):
        return configmirror_checks(new, old, namespace=namespace)
    kind = str(new.get("kind", ""))
    return source_checks(new, old, group=group, resource=resource, kind=kind, namespace=namespace)


def source_checks(
    new: Obj, old: Obj | None, *, group: str, resource: str, kind: str, namespace: str
) -> list[Check]:
    """What creating `new` (or changing `old` into it) requires of the requesting user."""
    tokens = source_tokens(new, kind=kind, namespace=namespace)
    before = source_tokens(old, kind=kind, namespace=namespace) if old is not None else []
    added = [t for t in tokens if t not in before]
    out = [Check("create", group, resource, t[2:], why="target") for t in added if t.startswith("n:")]
    if _patterns_widen(tokens, before, added, prefix="p:"):
        entries = ", ".join(t.split(":", 2)[2] for t in tokens if t.startswith("p:"))
        out.append(Check("create", group, resource, "", why=f"pattern {entries}"))
    for token in added:
        if token.startswith("g:"):
            ns, _, name = token[2:].partition("/")
            out.append(Check("get", group, resource, ns, name, why="pull"))
    return out


def _patterns_widen(tokens: list[str], before: list[str], added: list[str], *, prefix: str) -> bool:
    """A pattern needs `create` everywhere when the change adds one, or removes a narrowing one."""
    if not any(t.startswith(prefix) for t in tokens):
        return False
    narrowed = "x:" + prefix[2:]
    return any(t.startswith(prefix) for t in added) or any(
        t.startswith(narrowed) and t not in tokens for t in before
    )


def _part(obj: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    value = obj.get(key) if obj is not None else None
    return value if isinstance(value, Mapping) else {}


def _policy_kinds(spec: Mapping[str, Any]) -> list[str]:
    kinds = _part(spec, "source").get("kinds")
    return [str(k) for k in kinds] if isinstance(kinds, list) else ["ConfigMap", "Secret"]


def policy_tokens(obj: Obj) -> list[str]:
    """The tokens of one MirrorPolicy (policies-policy.yaml, variable `tokens`)."""
    spec = _part(obj, "spec")
    source_ns = _field(_part(spec, "source"), "namespace")
    kinds = _policy_kinds(spec)

    def strings(key: str) -> list[str]:
        value = spec.get(key)
        return [s for s in (str(e).strip() for e in value) if s] if isinstance(value, list) else []

    targets, exclude = strings("targets"), strings("exclude")
    out: list[str] = []
    for kind in kinds:
        out += [f"n:{kind}:{e}" for e in targets if _is_name(e) and e not in exclude and e != source_ns]
        out += [f"p:{kind}:{e}" for e in targets if not _is_name(e)]
        out += [f"p:{kind}:targetSelector"] if "targetSelector" in spec else []
        out += [f"x:{kind}:{e}" for e in exclude if not _is_name(e)]
        out.append(f"s:{kind}:{source_ns}")
    return out


def policy_resource(kind: str) -> tuple[str, str]:
    return POLICY_RESOURCES.get(kind, ("*", _lower_ascii(kind) + "s"))


def _policy_copies(obj: Obj | None) -> tuple[str, list[str], list[Any]]:
    """What a MirrorPolicy copies besides its kinds (policies-policy.yaml, `sourceNamespace`,
    `sourceNames`, `sourceSelector`): the source namespace, its names, its selector."""
    src = _part(_part(obj, "spec"), "source")
    names, selector = src.get("names"), src.get("selector")
    return (
        _field(src, "namespace"),
        [str(e) for e in names] if isinstance(names, list) else [],
        [] if selector is None else [selector],
    )


def _policy_writes(obj: Obj | None) -> tuple[list[Any], str, bool]:
    """What a MirrorPolicy writes of what it copies (policies-policy.yaml, `transform`,
    `strategy`, `transformStrict`): its transform as written, its strategy and its strictness,
    with the CRD's defaults (the server fills them in; a file may leave them out)."""
    spec = _part(obj, "spec")
    transform, strategy = spec.get("transform"), spec.get("strategy")
    return (
        [] if transform is None else [transform],
        "replace" if strategy is None else str(strategy),
        spec.get("transformStrict") is True,
    )


def _same(a: Any, b: Any) -> bool:
    """CEL's `==` on JSON values: maps equal whatever their keys' order, lists in order, numbers
    by value (1 == 1.0), and a boolean never equal to a number (Python's True == 1 would be)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping | list | tuple) or isinstance(b, Mapping | list | tuple):
        return False
    return bool(a == b)


_COPIES_OTHER = "this change makes it copy something else"
_WRITES_OTHER = "this change alters what it writes"


def _policy_again(new: Obj, old: Obj | None) -> str:
    """Why the change is judged as a new policy (policies-policy.yaml, `sourceChanged`,
    `writesChanged`), or "". Copying something else: its targets would receive what nobody
    allowed for them, and its source is read under new terms (names or a selector that now pick
    what the old ones did not). Writing something else (a transform set, changed or removed, or
    another strategy or strictness): its targets would receive data the editor chose, and a
    transform that withheld keys of the source (`delete`) no longer would. A kind needs no such
    rule: the tokens carry it, so a kind added is a token added for every target and its source.
    onSourceDelete needs none either: it decides whether the controller deletes or keeps its own
    mirrors when their source goes, and writes nothing."""
    if old is None:
        return ""
    if not _same(_policy_copies(new), _policy_copies(old)):
        return _COPIES_OTHER
    if not _same(_policy_writes(new), _policy_writes(old)):
        return _WRITES_OTHER
    return ""


def _policy_before(new: Obj, old: Obj | None) -> list[str]:
    """The tokens `old` already allowed: none when there is no `old`, or when the change is
    judged as a new policy (`_policy_again`)."""
    if old is None or _policy_again(new, old):
        return []
    return policy_tokens(old)


def policy_checks(new: Obj, old: Obj | None) -> list[Check]:
    tokens = policy_tokens(new)
    before = _policy_before(new, old)
    added = [t for t in tokens if t not in before]
    out: list[Check] = []
    for token in added:
        letter, kind, rest = token[0], *token[2:].split(":", 1)
        group, resource = policy_resource(kind)
        if letter == "n":
            out.append(Check("create", group, resource, rest, why="target"))
        elif letter == "s":
            out.append(Check("get", group, resource, rest, why="policy source"))
    for kind in _pattern_kinds(new, old, tokens, before, added):
        prefix = f"p:{kind}:"
        group, resource = policy_resource(kind)
        entries = ", ".join(t[len(prefix) :] for t in tokens if t.startswith(prefix))
        out.append(Check("create", group, resource, "", why=f"pattern {entries}"))
    return out


def _pattern_kinds(
    new: Obj, old: Obj | None, tokens: list[str], before: list[str], added: list[str]
) -> list[str]:
    """The kinds whose target pattern (or targetSelector) this change adds or widens."""
    new_spec, old_spec = _part(new, "spec"), _part(old, "spec")
    selector_changed = (
        old is not None
        and "targetSelector" in new_spec
        and ("targetSelector" not in old_spec or new_spec["targetSelector"] != old_spec["targetSelector"])
    )
    return [
        kind
        for kind in _policy_kinds(new_spec)
        if (selector_changed and any(t.startswith(f"p:{kind}:") for t in tokens))
        or _patterns_widen(tokens, before, added, prefix=f"p:{kind}:")
    ]


def over_budget(
    new: Obj, old: Obj | None, *, group: str, resource: str, namespace: str, everywhere: Everywhere
) -> str:
    """Why the policies refuse this change for its size alone, or "" (see MAX_TARGETS_PER_CHANGE)."""
    if configmapsync.is_resource(new):
        return ""  # one destination: one check
    if configmirror.is_resource(new):
        count = len(_configmirror_added_targets(new, old))
        if count > MAX_TARGETS_PER_CHANGE and not everywhere("", "configmaps"):
            return _too_many_targets(count, "configmaps")
        return ""
    if not is_policy(new):
        tokens = source_tokens(new, kind=str(new.get("kind", "")), namespace=namespace)
        before = source_tokens(old, kind=str(new.get("kind", "")), namespace=namespace) if old else []
        count = len([t for t in tokens if t.startswith("n:") and t not in before])
        if count > MAX_TARGETS_PER_CHANGE and not everywhere(group, resource):
            return _too_many_targets(count, resource)
        return ""
    tokens = policy_tokens(new)
    before = _policy_before(new, old)
    added = [t for t in tokens if t not in before]
    again = _policy_again(new, old)
    kinds = _policy_kinds(_part(new, "spec"))
    answered = kinds[:MAX_POLICY_KINDS_EVERYWHERE]
    pairs = [t[2:].split(":", 1)[0] for t in added if t.startswith("n:")]
    if len(pairs) > MAX_POLICY_TARGETS_PER_CHANGE and not all(
        k in answered and everywhere(*policy_resource(k)) for k in pairs
    ):
        return (
            f"this change adds {len(pairs)} kind and target pairs; the admission policy checks at most "
            f"{MAX_POLICY_TARGETS_PER_CHANGE} per change for a user who may not create those kinds in every "
            "namespace: add them in steps" + (_AGAIN.format(again, "target") if again else "")
        )
    if _pattern_kinds(new, old, tokens, before, added) and len(kinds) > MAX_POLICY_KINDS_EVERYWHERE:
        return (
            "a MirrorPolicy with a target pattern or targetSelector may name at most "
            f"{MAX_POLICY_KINDS_EVERYWHERE} kinds (the admission policy checks at most "
            f"{MAX_POLICY_KINDS_EVERYWHERE}); split it"
        )
    sources = len([t for t in added if t.startswith("s:")])
    if sources > MAX_POLICY_SOURCES_PER_CHANGE:
        return (
            f"this change adds {sources} kinds to copy; the admission policy checks at most "
            f"{MAX_POLICY_SOURCES_PER_CHANGE} per change: add them in steps"
            + (_AGAIN.format(again, "kind") if again else "")
        )
    return ""


_AGAIN = " ({0}, which checks every {1} again: make it with fewer {1}s, then add the others)"


def _too_many_targets(count: int, resource: str) -> str:
    return (
        f"this change adds {count} target namespaces; the admission policy checks at most "
        f"{MAX_TARGETS_PER_CHANGE} per change for a user who may not create {resource} in every "
        "namespace: add them in steps"
    )


def exempt(obj: Obj, username: str) -> bool:
    """Whether the policy that judges `obj` lets `username` through unchecked (its
    `not-the-controller` match condition): the controller, whatever `obj` is (every policy has
    the condition; `obj` stays so that a policy without it would have its place here)."""
    return username == CONTROLLER_USER


def _field(spec: Mapping[str, Any], key: str) -> str:
    """A string field as CEL's `has(s.f) ? string(s.f) : ''` reads it (the server drops nulls)."""
    value = spec.get(key)
    return "" if value is None else str(value)


def configmapsync_checks(new: Obj, old: Obj | None) -> list[Check]:
    """other-tools-policy.yaml, kubectl-mirror-configmapsyncs: `get` on the ConfigMap it copies and
    `create` in its destination. A change of the ConfigMap it copies is checked as a new one."""
    spec, before = _part(new, "spec"), _part(old, "spec")
    source_ns, name, destination = (
        _field(spec, "sourceNamespace"),
        _field(spec, "configMapName"),
        _field(spec, "destinationNamespace"),
    )
    source_added = old is None or (source_ns, name) != (
        _field(before, "sourceNamespace"),
        _field(before, "configMapName"),
    )
    out: list[Check] = []
    if destination != source_ns and (source_added or destination != _field(before, "destinationNamespace")):
        out.append(Check("create", "", "configmaps", destination, why="target"))
    if source_added:
        out.append(Check("get", "", "configmaps", source_ns, name, why="policy source"))
    return out


def _configmirror_source_added(new: Obj, old: Obj | None) -> bool:
    """A new ConfigMirror, or one that now copies from another namespace or another selection."""
    spec, before = _part(new, "spec"), _part(old, "spec")
    return old is None or (
        _field(spec, "sourceNamespace") != _field(before, "sourceNamespace")
        or ("selector" in spec, spec.get("selector")) != ("selector" in before, before.get("selector"))
    )


def _targets(spec: Mapping[str, Any]) -> list[str]:
    value = spec.get("targetNamespaces")
    return [str(e) for e in value] if isinstance(value, list) else []


def _configmirror_added_targets(new: Obj, old: Obj | None) -> list[str]:
    spec = _part(new, "spec")
    source_ns = _field(spec, "sourceNamespace")
    before = [] if _configmirror_source_added(new, old) else _targets(_part(old, "spec"))
    return [e for e in _targets(spec) if e != source_ns and e not in before]


def _secret_ref(obj: Obj | None, namespace: str) -> tuple[str, str] | None:
    """database.secretRef as (namespace, name), the namespace defaulting to the ConfigMirror's."""
    ref = _part(_part(_part(obj, "spec"), "database"), "secretRef")
    if ref.get("name") is None:
        return None
    ns = _field(ref, "namespace")
    return (ns or namespace, str(ref["name"]))


def configmirror_checks(new: Obj, old: Obj | None, *, namespace: str) -> list[Check]:
    """other-tools-policy.yaml, kubectl-mirror-configmirrors: `create` in each target it adds, `list`
    where it copies from (its selector picks names unknown when it is written, and later ones too:
    `list` is the right that reveals those), `get` on the Secret its database names. A change of
    source namespace or selector is checked as a new ConfigMirror."""
    out = [Check("create", "", "configmaps", e, why="target") for e in _configmirror_added_targets(new, old)]
    if _configmirror_source_added(new, old):
        source_ns = _field(_part(new, "spec"), "sourceNamespace")
        out.append(Check("list", "", "configmaps", source_ns, why="policy source"))
    secret = _secret_ref(new, namespace)
    if secret is not None and (old is None or secret != _secret_ref(old, namespace)):
        out.append(Check("get", "", "secrets", *secret, why="database secret"))
    return out
