"""Helpers for driver tests: the links each model is tested over, and a frame tap on the firmware."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from massager_ctl.errors import ProtocolError
from massager_ctl.protocol import Command, mascii, mbin

CommandT = TypeVar("CommandT")

# Each model over the links a real unit has (pty and TCP for serial, Bumble radio for BLE),
# plus the in-memory link every model offers.
REAL_LINKS = [
    ("serial-cushion-z3", "pty"),
    ("serial-cushion-z3", "tcp"),
    ("pulse-gun-p5", "ble"),
    ("shiatsu-cushion-s3", "ble"),
]
ALL_LINKS = [*REAL_LINKS, ("pulse-gun-p5", "virtual"), ("shiatsu-cushion-s3", "virtual")]


def link_id(case: tuple[str, str]) -> str:
    return f"{case[0]}-{case[1]}"


class FirmwareTap:
    """Records every command the simulated firmware receives, decoded with the controller's codec.

    It wraps the firmware's ``receive`` (which every front-end calls) and passes the bytes on
    untouched, so the device behaves exactly as without it.
    """

    def __init__(self, firmware: object) -> None:
        profile = firmware.profile  # type: ignore[attr-defined]
        self.commands: list[Command] = []
        self._splitter = mascii.LineSplitter() if profile.protocol.family == "mascii" else None
        self._decode = mascii.decode if self._splitter else mbin.decode
        original: Callable[[bytes], None] = firmware.receive  # type: ignore[attr-defined]

        def receive(data: bytes) -> None:
            for frame in self._splitter.feed(data) if self._splitter else [data]:
                try:
                    message = self._decode(frame)
                except ProtocolError:
                    continue
                self.commands.append(message)  # type: ignore[arg-type]
            original(data)

        setattr(firmware, "receive", receive)  # noqa: B010

    def count(self, kind: type[object]) -> int:
        return sum(isinstance(c, kind) for c in self.commands)

    def of(self, kind: type[CommandT]) -> list[CommandT]:
        return [c for c in self.commands if isinstance(c, kind)]
