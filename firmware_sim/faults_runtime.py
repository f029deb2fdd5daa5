"""The random side of a :class:`~firmware_sim.faults.FaultSpec` while the firmware runs.

One generator, seeded once, decides which frames are lost or damaged and when a connected link drops, so the
same seed and the same traffic replay the same faults. The scheduled faults (``drop_link_at``, ``stall_at``,
``overheat_at``) change the device itself and stay in :mod:`firmware_sim.firmware`.
"""

from __future__ import annotations

import random

from firmware_sim.faults import FaultSpec


class FaultDice:
    """Rolls for the random faults of ``spec``; a probability of 0 never draws, keeping replays stable.

    Args:
        spec: the faults to inject.
        seed: seed for the generator (``None``: unpredictable).
        lines: the protocol is line based (mascii): damage spares the line terminator.
    """

    def __init__(self, spec: FaultSpec, *, seed: int | None, lines: bool) -> None:
        self._spec = spec
        self._rng = random.Random(seed)
        self._lines = lines

    def lose_frame(self) -> bool:
        """This frame or line is lost on the wire (``drop_frame_p``)."""
        return self._chance(self._spec.drop_frame_p)

    def damage(self, frame: bytes) -> bytes:
        """The frame as it arrives: with one byte flipped, at ``corrupt_frame_p``."""
        if not self._chance(self._spec.corrupt_frame_p):
            return frame
        # a damaged line keeps its terminator so the line framing survives, as on a noisy UART
        span = len(frame.rstrip(b"\r\n")) if self._lines else len(frame)
        if span == 0:
            return frame
        damaged = bytearray(frame)
        i = self._rng.randrange(span)
        damaged[i] ^= self._rng.randrange(1, 0x80 if self._lines else 0x100)
        if damaged[i] in b"\r\n":
            damaged[i] = ord("#")
        return bytes(damaged)

    def link_drops(self, firmware_s: float) -> bool:
        """A connected link drops during the next ``firmware_s`` seconds (``drop_link_p`` per second)."""
        p = self._spec.drop_link_p
        if p <= 0:
            return False
        chance: float = 1 - (1 - p) ** firmware_s
        return self._rng.random() < chance

    def _chance(self, p: float) -> bool:
        return p > 0 and self._rng.random() < p
