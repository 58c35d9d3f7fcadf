"""The work queue's lanes: an event's key never waits for a backlog of other work."""

from __future__ import annotations

from kubectl_mirror.watch.queue import WorkQueue


def test_urgent_keys_are_handed_out_before_background_ones() -> None:
    queue = WorkQueue()
    for key in ("b1", "b2"):
        queue.add(key, urgent=False)
    queue.add("u1")
    assert [queue.get(timeout=0), queue.get(timeout=0)] == ["u1", None]  # b1 waits for u1
    queue.done("u1")
    assert queue.get(timeout=0) == "b1"


def test_a_background_key_asked_for_by_an_event_is_promoted_once() -> None:
    queue = WorkQueue()
    for key in ("b1", "b2", "b3"):
        queue.add(key, urgent=False)
    queue.add("b3")
    assert len(queue) == 3
    assert queue.get(timeout=0) == "b3"
    queue.done("b3")
    # b3's old background entry is skipped: it is not handed out twice.
    assert [queue.get(timeout=0) for _ in range(3)] == ["b1", "b2", None]


def test_background_work_yields_to_urgent_work_and_urgent_work_to_other_urgent_keys() -> None:
    queue = WorkQueue()
    queue.add("backlog", urgent=False)
    assert queue.get(timeout=0) == "backlog"
    assert not queue.should_yield("backlog")
    queue.add("update")
    assert queue.should_yield("backlog")
    assert queue.get(timeout=0) == "update"
    assert queue.should_yield("backlog")  # while the update is being worked on, too
    assert not queue.should_yield("update")
    queue.add("another update")
    assert queue.should_yield("update")
    assert not queue.should_yield("not handed out")


def test_a_yielded_key_comes_back_in_its_own_lane_after_the_others() -> None:
    queue = WorkQueue()
    queue.add("big", urgent=False)
    queue.add("other", urgent=False)
    assert queue.get(timeout=0) == "big"
    queue.resume("big")  # it yielded: the rest later
    queue.done("big")
    assert [queue.get(timeout=0), queue.get(timeout=0)] == ["other", "big"]


def test_a_retry_comes_back_as_background_work() -> None:
    queue = WorkQueue(base_delay=0.0)
    queue.add("failed")
    assert queue.get(timeout=0) == "failed"
    queue.retry("failed")
    queue.done("failed")
    queue.add("event")
    assert queue.get(timeout=0.1) == "event"
    assert queue.get(timeout=0) is None
    queue.done("event")
    assert queue.get(timeout=0.1) == "failed"


def test_a_fresh_edit_goes_before_the_rest_of_bulk_work_that_yielded() -> None:
    """Fifty new sources, each yielding after its first batch of writes, must not each take a
    turn again ahead of a user's edit (measured: 12.6 s for one update when they did)."""
    queue = WorkQueue()
    for n in range(3):
        queue.add(f"new-{n}")
    for n in range(3):
        key = queue.get(timeout=0)
        assert key == f"new-{n}"
        queue.resume(key)
        queue.done(key)
    queue.add("edit")
    assert queue.get(timeout=0) == "edit"
    assert not queue.should_yield("edit")  # the resumed bulk work does not make it yield
    # While the edit is written, the bulk work waits: the edit has the server to itself.
    assert queue.get(timeout=0) is None
    queue.done("edit")
    assert queue.get(timeout=0) == "new-0"
    assert queue.should_yield("new-0") is False  # nothing fresh waits, nothing urgent in flight
    queue.add("another edit")
    assert queue.should_yield("new-0")
    assert queue.get(timeout=0) == "another edit"
    assert queue.should_yield("new-0")  # an edit in flight: the resumed work stops at its next batch
    queue.done("another edit")
    assert not queue.should_yield("new-0")


def test_background_work_waits_for_resumed_work() -> None:
    queue = WorkQueue()
    queue.add("resync", urgent=False)
    queue.add("new")
    assert queue.get(timeout=0) == "new"
    queue.resume("new")
    queue.done("new")
    assert queue.get(timeout=0) == "new"  # resumed before background
    assert queue.get(timeout=0) is None  # the resync waits while it is in flight
    queue.done("new")
    assert queue.get(timeout=0) == "resync"
