"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

Two replicas of the controller run for availability, but only one may write: two writers would
fight over every mirror. The replica whose identity is in the Lease's `holderIdentity`, renewed
within `leaseDurationSeconds`, is the leader. Every write to the Lease is a PUT carrying the
resourceVersion that was read (or a POST for a missing Lease), so when two candidates race, the
API server lets exactly one through and the other gets 409.

Give the elector its own `Cluster` built with `election_options(...)`: no retries inside a
request (the elector retries every `retry_period` and must notice its deadline), and no rate
limiter or connection pool shared with the controller's bulk work. This module does not run the controller.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from kubectl_mirror.errors import ClusterError, Ref
from kubectl_mirror.io.cluster import Cluster, ClusterOptions

log = logging.getLogger(__name__)
LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"


def election_options(options: ClusterOptions, *, renew_deadline: float = 10.0) -> ClusterOptions:
    """Options for the elector's own Cluster: one try per request, bounded by the deadline."""
    timeout = min(options.request_timeout or renew_deadline, renew_deadline / 2)
    return replace(options, retries=0, request_timeout=timeout)


def default_identity() -> str:
    """The pod's name (from the downward API) or host name, then the process id (which process
    of a laptop leads) and a random suffix, so a restarted container never mistakes its
    predecessor's Lease for its own."""
    base = os.environ.get("POD_NAME") or socket.gethostname()
    return f"{base}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def format_micro_time(moment: datetime) -> str:
    """RFC 3339 with microseconds, as the API's MicroTime (2024-05-01T12:00:00.123456Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class LeaderElector:
    """One candidate for one Lease. `run` drives it; `is_leader` is safe to ask from any thread."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not retry_period < renew_deadline < lease_duration:
            raise ValueError("leader election needs retry_period < renew_deadline < lease_duration")
        if not identity:
            raise ValueError("leader election needs a non-empty identity")
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._held = False  # the last write we made to the Lease put us in it
        self._renewed_at = -math.inf  # clock() when that write succeeded
        self._seen_version = ""  # the Lease record as we last read it ...
        self._seen_at = 0.0  # ... since when (clock()) ...
        self._seen_change = False  # ... and whether we saw it change (not just our first read)

    # -- state -------------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """True only while our last renewal is younger than renew_deadline, even when `run` is
        stuck in a request: a writer asks this before every write."""
        with self._lock:
            return self._held and self._clock() - self._renewed_at < self.renew_deadline

    def _set(self, held: bool) -> bool:
        with self._lock:
            self._held = held
            if held:
                self._renewed_at = self._clock()
        return held

    # -- one step ----------------------------------------------------------------------------

    def try_acquire_or_renew(self) -> bool:
        """Read the Lease once and create, take over or renew it if we may. True if we hold it.

        A failed request leaves our standing as it was (the deadline in `is_leader` decides);
        a Lease held by someone else, or a 409 on our write, means we do not hold it."""
        try:
            lease = self._get()
            if lease is None:
                return self._set(self._create())
            if self._holder(lease) == self.identity or self._expired(lease):
                return self._set(self._update(lease))
            if self._held:
                log.info("lease %s/%s is now held by %s", self.namespace, self.name, self._holder(lease))
            return self._set(False)
        except ClusterError as err:
            log.warning("leader election: %s", err)
            return self.is_leader

    def _path(self, name: str | None = None) -> str:
        base = LEASES.format(namespace=quote(self.namespace, safe=""))
        return f"{base}/{quote(name, safe='')}" if name else base

    def _ref(self) -> Ref:
        return Ref("coordination.k8s.io/v1", "Lease", self.namespace, self.name)

    def _get(self) -> dict[str, Any] | None:
        found = self.cluster.request("GET", self._path(self.name), ref=self._ref(), ok=(404,))
        if found.status == 404:
            return None
        lease: dict[str, Any] = found.body
        self._observe(lease)
        return lease

    def _observe(self, lease: dict[str, Any]) -> None:
        version = str(lease.get("metadata", {}).get("resourceVersion", ""))
        if version != self._seen_version:
            self._seen_change = bool(self._seen_version)
            self._seen_version, self._seen_at = version, self._clock()

    @staticmethod
    def _holder(lease: dict[str, Any]) -> str:
        return str((lease.get("spec") or {}).get("holderIdentity") or "")

    def _expired(self, lease: dict[str, Any]) -> bool:
        """client-go's rule (unrenewed for a lease duration by our own clock), plus, for a record
        we have only just started watching, the Lease's own renewTime: a standby that starts
        long after a leader died takes over at once instead of waiting a full term. Once we have
        seen the record change, our clock alone decides, so a holder whose clock lags is safe."""
        spec = lease.get("spec") or {}
        if not self._holder(lease):
            return True  # released
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        if self._clock() - self._seen_at > duration:
            return True
        if self._seen_change:
            return False
        renewed = parse_micro_time(spec.get("renewTime")) or parse_micro_time(spec.get("acquireTime"))
        return renewed is None or renewed + timedelta(seconds=duration) < self._wall()

    def _spec(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        now = format_micro_time(self._wall())
        old = previous or {}
        taking_over = old.get("holderIdentity") != self.identity
        transitions = int(old.get("leaseTransitions") or 0)
        return {
            **old,
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, math.ceil(self.lease_duration)),
            "acquireTime": now if taking_over else old.get("acquireTime", now),
            "renewTime": now,
            "leaseTransitions": transitions + 1 if taking_over and previous is not None else transitions,
        }

    def _create(self) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": self._spec(None),
        }
        made = self.cluster.request(
            "POST", self._path(), body=body, content_type="application/json", ref=self._ref(), ok=(409,)
        )
        if made.status == 409:
            return False  # another candidate created it first
        self._observe(made.body)
        log.info("acquired new lease %s/%s as %s", self.namespace, self.name, self.identity)
        return True

    def _update(self, lease: dict[str, Any]) -> bool:
        taking_over = self._holder(lease) != self.identity
        body = {**lease, "spec": self._spec(lease.get("spec"))}
        if not self._put(body):
            return False
        if taking_over:
            log.info("acquired lease %s/%s as %s", self.namespace, self.name, self.identity)
        return True

    def _put(self, body: dict[str, Any]) -> bool:
        """PUT with the resourceVersion we read: a 409 means someone else wrote in between."""
        done = self.cluster.request(
            "PUT",
            self._path(self.name),
            body=body,
            content_type="application/json",
            ref=self._ref(),
            ok=(409,),
        )
        if done.status == 409:
            return False
        self._observe(done.body)
        return True

    # -- the loop ----------------------------------------------------------------------------

    def run(
        self,
        stop: threading.Event,
        on_started: Callable[[], None],
        on_stopped: Callable[[], None],
    ) -> None:
        """Acquire, then renew every retry_period, until `stop` is set.

        `on_started` is called when we become leader; `on_stopped` when we stop being leader:
        the Lease went to someone else, renewals failed for renew_deadline, or `stop` was set
        while leading. Call `release()` after in-flight work has finished, not before, so the
        next leader never writes alongside us."""
        leading = False
        try:
            while not stop.is_set():
                self.try_acquire_or_renew()
                now = self.is_leader
                if now and not leading:
                    leading = True
                    on_started()
                elif leading and not now:
                    leading = False
                    log.warning("lost leadership of lease %s/%s", self.namespace, self.name)
                    on_stopped()
                stop.wait(self._next_wait())
        finally:
            if leading:
                on_stopped()

    def _next_wait(self) -> float:
        """retry_period, shortened so a leader whose renewals fail notices its deadline on time."""
        if not self._held:
            return self.retry_period
        left = self.renew_deadline - (self._clock() - self._renewed_at)
        return max(0.0, min(self.retry_period, left))

    def release(self) -> bool:
        """Give the Lease up (on SIGTERM): empty holder, 1 s duration, so a standby takes over at
        its next retry instead of after a full lease duration. True if it was released."""
        with self._lock:
            held, self._held = self._held, False
        if not held:
            return False
        try:
            lease = self._get()
            if lease is None or self._holder(lease) != self.identity:
                return False
            spec = {
                **(lease.get("spec") or {}),
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "renewTime": format_micro_time(self._wall()),
            }
            released = self._put({**lease, "spec": spec})
        except ClusterError as err:
            log.warning("could not release lease %s/%s: %s", self.namespace, self.name, err)
            return False
        if released:
            log.info("released lease %s/%s", self.namespace, self.name)
        return released
