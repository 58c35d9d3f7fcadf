"""Kubernetes `Status` errors, shaped like the real API server's.

Every failure the fake server reports is an `ApiError` carrying the exact body a real
kube-apiserver would send (`kind: Status`, `reason`, `code`, `details`). Clients branch on
these fields, so their wording follows apimachinery's `k8s.io/apimachinery/pkg/api/errors`.
This module knows nothing about HTTP or the store.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A failed API call; `body` is the `Status` object sent to the client."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    @property
    def body(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            status["details"] = self.details
        return status


def _details(name: str, group: str, plural: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name} if name else {}
    if group:
        details["group"] = group
    details["kind"] = plural
    details.update(extra)
    return details


def _qualified(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(group, plural)} "{name}" not found',
        details=_details(name, group, plural),
    )


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", details={})


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(group, plural)} "{name}" already exists',
        details=_details(name, group, plural),
    )


def conflict(group: str, plural: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(group, plural)} "{name}": {why}',
        details=_details(name, group, plural),
    )


STALE = "the object has been modified; please apply your changes to the latest version and try again"


def apply_conflicts(conflicts: list[tuple[str, str, str]]) -> ApiError:
    """`conflicts` holds (manager, apiVersion, field path like `.data.key`)."""
    causes = [
        {"reason": "FieldManagerConflict", "message": f'conflict with "{m}" using {v}', "field": f}
        for m, v, f in conflicts
    ]
    if len(conflicts) == 1:
        m, v, f = conflicts[0]
        message = f'Apply failed with 1 conflict: conflict with "{m}" using {v}: {f}'
    else:
        lines = "\n".join(f'- conflict with "{m}" using {v}: {f}' for m, v, f in conflicts)
        message = f"Apply failed with {len(conflicts)} conflicts: {lines}"
    return ApiError(409, "Conflict", message, details={"causes": causes})


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """`causes` holds (cause reason, field, message) as in `field.Error`."""
    text = ", ".join(f"{field}: {msg}" if field else msg for _, field, msg in causes)
    if len(causes) > 1:
        text = "[" + text + "]"
    return ApiError(
        422,
        "Invalid",
        f'{kind} "{name}" is invalid: {text}',
        details={
            "name": name,
            **({"group": group} if group else {}),
            "kind": kind,
            "causes": [{"reason": r, "message": m, "field": f} for r, f, m in causes],
        },
    )


def unprocessable(message: str) -> ApiError:
    return ApiError(422, "Invalid", message, details={})


def forbidden(group: str, plural: str, name: str, why: str, cause: str = "") -> ApiError:
    details = _details(name, group, plural)
    if cause:
        details["causes"] = [{"reason": cause, "message": why, "field": "metadata.namespace"}]
    return ApiError(
        403,
        "Forbidden",
        f'{_qualified(group, plural)} "{name}" is forbidden: {why}',
        details=details,
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message, details={})


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json-patch+json, application/merge-patch+json, "
        f"application/apply-patch+yaml (got {content_type})",
        details={},
    )


def too_large(limit: int) -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Gone", message)


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "TooManyRequests",
        "The server has received too many requests and has asked us to try again later",
        details={"retryAfterSeconds": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


def internal(message: str) -> ApiError:
    return ApiError(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        details={"causes": [{"message": message}]},
    )


def service_unavailable(
    message: str = "the server is currently unable to handle the request",
) -> ApiError:
    return ApiError(503, "ServiceUnavailable", message, details={})


def timeout(
    message: str = "the server was unable to return a response in the time allotted",
) -> ApiError:
    return ApiError(504, "Timeout", message, details={})


def for_status(code: int, *, group: str, plural: str, name: str, retry_after: int = 1) -> ApiError:
    """A plausible error body for an injected status code."""
    if code == 404:
        return not_found(group, plural, name or "injected")
    if code == 409:
        return conflict(group, plural, name or "injected", STALE)
    if code == 410:
        return expired("too old resource version (injected)")
    if code == 429:
        return too_many_requests(retry_after)
    if code == 500:
        return internal("injected fault")
    if code == 503:
        return service_unavailable()
    if code == 504:
        return timeout()
    if code == 403:
        return forbidden(group, plural, name or "injected", "injected fault")
    return ApiError(code, "Unknown", f"injected fault (HTTP {code})", details={})
