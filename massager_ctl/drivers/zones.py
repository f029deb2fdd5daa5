"""A bed base's two massage zones as the driver sees them: one chosen zone at one intensity.

A bed base (Keeson, Reverie, Richmat) has a head and a foot massage motor, the catalog's ``head``
and ``foot`` zones, each at its own level. The driver's model is one massaging zone at one
intensity, so each of those adaptors keeps the same book: the zone chosen, the levels last known
(reported, or sent where nothing is reported), the pattern, and the status they add up to. That book
is :class:`ZoneLevels`; the adaptor holding it says how levels are reached and confirmed.
"""

from __future__ import annotations

from massager_ctl.models import DeviceProfile
from massager_ctl.protocol.messages import StatusReport

HEAD, FOOT = 1, 2
"""The wire codes of the catalog's ``head`` and ``foot`` zones."""


class ZoneLevels:
    """The chosen zone, both zones' levels and the pattern of one bed base.

    Args:
        profile: the model; its default head is the zone chosen at first (else the head zone).
    """

    def __init__(self, profile: DeviceProfile) -> None:
        head = profile.head(profile.default_head)
        #: The zone a level is set on (a wire code: :data:`HEAD` or :data:`FOOT`).
        self.zone = head.code if head else HEAD
        #: The pattern running (0: none), as the adaptor last set or learnt it.
        self.mode = 0
        self._levels = {HEAD: 0, FOOT: 0}

    @property
    def head(self) -> int:
        return self._levels[HEAD]

    @property
    def foot(self) -> int:
        return self._levels[FOOT]

    @property
    def level(self) -> int:
        """The intensity the driver shows: the higher of the two zones' levels."""
        return max(self._levels.values())

    def level_of(self, zone: int) -> int:
        """The level of ``zone`` (a wire code)."""
        return self._levels[zone]

    def levels_with(self, zone: int, level: int) -> tuple[int, int]:
        """The (head, foot) levels with ``zone`` at ``level`` and the other as it is; nothing changes."""
        levels = {**self._levels, zone: level}
        return levels[HEAD], levels[FOOT]

    def choose(self, zone: int) -> int:
        """Make ``zone`` the chosen one; returns the zone chosen before."""
        old, self.zone = self.zone, zone
        return old

    def update(self, head: int, foot: int) -> None:
        """Take the levels the base reports (or, open loop, the ones just sent).

        When exactly one zone runs, it is the chosen zone: the base may have been moved from its own
        remote, and a zone change half done shows the old zone until it is off.
        """
        self._levels = {HEAD: head, FOOT: foot}
        running = [zone for zone, level in self._levels.items() if level > 0]
        if len(running) == 1:
            self.zone = running[0]

    def status(self) -> StatusReport:
        """The driver's status: the chosen zone at the higher level; a bed base has no heat to report."""
        level = self.level
        return StatusReport(
            motor=level > 0, head=self.zone, intensity=level, heat=0, mode=self.mode, temperature_c=0.0
        )
