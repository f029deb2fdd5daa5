"""The person with the device: who confirms a step and who fits a head, as a strategy.

A session asks its :class:`Person` once the device is held (motor and heat
off) and it waits for them: to fit a manual head, or to confirm a step that
needs them ready. The session does not care who the person is:

* :class:`AutoPerson` (``--yes``) is ready at once;
* :class:`AttendingPerson` answers later through the session's ``confirm``
  control: Enter in the live view, a button on a page, a remote ``confirm``
  command; a device that detects its head confirms a head change by itself;
* :class:`HandsOnPerson` is ready at once and fits the head with the hands it
  is given: on a simulator, the simulated device's own head-fitting seam.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from massager_ctl.orchestrator.timeline import Request

__all__ = ["AttendingPerson", "AutoPerson", "HandsOnPerson", "Person", "Request"]


class Person(Protocol):
    """Who the session waits for."""

    def asked(self, request: Request) -> bool:
        """The session waits for ``request``, the device held; True if the person is ready at once.

        Called once per wait, in the session's task: what the person raises ends the session (failed,
        the device made safe) and propagates from ``run``.
        """


class AutoPerson:
    """Ready at once, every time (``--yes``, nobody there to confirm)."""

    def asked(self, request: Request) -> bool:
        return True


class AttendingPerson:
    """Confirms through the session's ``confirm`` control (keyboard, page, remote command)."""

    def asked(self, request: Request) -> bool:
        return False


class HandsOnPerson:
    """Ready at once, and fits each head asked for with ``fit_head`` (a simulator's person).

    Args:
        fit_head: puts the head with this id on the device, as a person's hands would.
    """

    def __init__(self, fit_head: Callable[[str], None]) -> None:
        self._fit_head = fit_head

    def asked(self, request: Request) -> bool:
        if request.head is not None:
            self._fit_head(request.head)
        return True
