"""The firmware's own failures: logged and kept, and raised in strict mode so tests notice them."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("firmware_sim.firmware")

#: Environment variable that turns strict mode on for firmwares built without ``strict=``.
STRICT_ENV = "MASSAGER_SIM_STRICT"


class FirmwareBugError(RuntimeError):
    """A strict firmware failed internally (see :class:`~firmware_sim.firmware.Firmware`'s ``strict``)."""


class FailureLog:
    """Failures of one firmware, oldest first.

    Args:
        strict: :meth:`raise_if_strict` raises when anything failed.
    """

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self._items: list[Exception] = []

    @property
    def items(self) -> tuple[Exception, ...]:
        """Every failure recorded so far."""
        return tuple(self._items)

    def record(self, what: str, error: Exception) -> None:
        """Log ``error`` with ``what`` went wrong, and keep it."""
        log.error("%s", what, exc_info=error)
        self._items.append(error)

    def guarded(self, callback: Callable[[], None], what: str) -> None:
        """Run ``callback``; a failure is recorded instead of raised."""
        try:
            callback()
        except Exception as e:
            self.record(what, e)

    def raise_if_strict(self, who: str) -> None:
        """Raise if strict and anything failed.

        Raises:
            FirmwareBugError: strict, and at least one failure was recorded (the first is the cause).
        """
        if self.strict and self._items:
            first = self._items[0]
            raise FirmwareBugError(f"{who} failed {len(self._items)} time(s); first: {first!r}") from first
