"""The work queue's two lanes: an event's key never waits for a backlog of background work."""

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
    queue.add("big", urgent=queue.lane_of("big") == "urgent")  # it yielded: the rest later
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
