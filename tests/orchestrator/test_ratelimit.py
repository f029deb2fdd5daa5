"""Admission control: per-client token buckets under a shared one, on a hand-driven clock."""

from __future__ import annotations

from massager_ctl.orchestrator.ratelimit import Rate, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, *, max_clients: int = 64) -> RateLimiter:
    return RateLimiter(
        clock=clock,
        client_rate=Rate(per_s=2.0, burst=3.0),
        total_rate=Rate(per_s=10.0, burst=5.0),
        max_clients=max_clients,
    )


def test_a_client_gets_its_burst_then_its_rate() -> None:
    clock = Clock()
    limits = limiter(clock)
    assert [limits.admit("phone") for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5  # one token back at 2 a second
    assert [limits.admit("phone") for _ in range(2)] == [True, False]
    assert limits.refused == 2


def test_one_chatty_client_does_not_use_up_another_ones_share() -> None:
    clock = Clock()
    limits = limiter(clock)
    assert sum(limits.admit("dashboard") for _ in range(50)) == 3
    assert limits.admit("phone")


def test_the_shared_bucket_bounds_everyone_together() -> None:
    clock = Clock()
    limits = limiter(clock)
    admitted = sum(limits.admit(f"client-{n}") for n in range(20))  # fresh ids do not buy more
    assert admitted == 5
    clock.now += 0.25  # 2.5 shared tokens back
    assert [limits.admit(f"late-{n}") for n in range(3)] == [True, True, False]


def test_commands_without_a_client_share_the_anonymous_bucket() -> None:
    clock = Clock()
    limits = limiter(clock)
    assert [limits.admit(None) for _ in range(4)] == [True, True, True, False]
    assert not limits.admit("anonymous")


def test_memory_stays_bounded_whatever_ids_are_sent() -> None:
    clock = Clock()
    limits = limiter(clock, max_clients=4)
    for n in range(1000):
        limits.admit(f"id-{n}")
        clock.now += 1.0
    assert limits.tracked_clients == 4
