"""The one backoff: doubling delays up to a cap, an optional number of attempts, jitter within its bound."""

from __future__ import annotations

import itertools

import pytest

from massager_ctl.retry import Backoff


def test_delays_double_up_to_the_cap_and_stop_after_the_attempts() -> None:
    assert list(Backoff(initial_s=0.5, max_s=3.0, attempts=6).delays()) == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert list(Backoff(attempts=0).delays()) == []


def test_without_attempts_the_delays_never_end_and_each_sequence_starts_over() -> None:
    backoff = Backoff(initial_s=1.0, max_s=4.0)
    assert list(itertools.islice(backoff.delays(), 50))[-1] == 4.0
    assert next(backoff.delays()) == 1.0


def test_jitter_only_lengthens_a_delay_by_up_to_its_fraction() -> None:
    delays = list(itertools.islice(Backoff(initial_s=1.0, max_s=1.0, jitter=0.2).delays(), 500))
    assert all(1.0 <= d <= 1.2 for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    "options",
    [{"initial_s": 2.0, "max_s": 1.0}, {"initial_s": -1.0}, {"attempts": -1}, {"jitter": -0.1}],
)
def test_nonsense_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        Backoff(**options)  # type: ignore[arg-type]
