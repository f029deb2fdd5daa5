"""How many random examples the fuzz tests and seeded random runs try: a fifth of them in the inner loop."""

from __future__ import annotations

import os

#: ``./scripts/test --fast`` sets it to ``1``. Plain pytest and the full run (CI) leave it unset.
FAST_ENV = "MASSAGER_TEST_FAST"


def examples(full: int) -> int:
    """``full`` in the full run, a fifth of it (at least 10) under ``./scripts/test --fast``.

    The inner loop still tries fresh examples every run (hypothesis draws anew and replays from its
    database any that failed before); CI tries every one.
    """
    if os.environ.get(FAST_ENV) == "1":
        return max(10, full // 5)
    return full
