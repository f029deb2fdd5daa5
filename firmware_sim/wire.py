"""The firmware's two wire dialects: framing of incoming bytes and encoding of replies.

The firmware's state machine speaks in :mod:`firmware_sim.messages` commands; a :class:`Wire` turns
link bytes into those commands and the machine's answers back into bytes for one protocol family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from firmware_sim import mascii, mbin
from firmware_sim.messages import Command, FrameError

#: Firmware version every simulated model reports.
FIRMWARE_VERSION = (1, 4)


@dataclass(frozen=True, slots=True)
class StatusFields:
    """One status report, in wire terms."""

    motor: bool
    heat_on: bool
    watchdog_tripped: bool
    low_battery: bool
    overheat: bool
    heat_auto_off: bool
    head: int
    intensity: int
    heat: int
    mode: int
    direction: int
    temperature_c: float
    battery: int | None


class Wire(Protocol):
    """One protocol family as seen by the device."""

    #: A repeated frame (same SEQ, same bytes) is answered again without being applied again.
    idempotent_retries: bool

    def frames(self, data: bytes) -> list[bytes | None]:
        """Cut received bytes into frames; ``None`` stands for an over-long line that was discarded."""

    def reset(self) -> None:
        """Forget partial input (the link went down)."""

    def decode(self, frame: bytes | None) -> tuple[int, Command]:
        """A frame as ``(seq, command)``; seq is 0 where the family has none.

        Raises:
            FrameError: the frame is malformed.
        """

    def reject(self, error: FrameError) -> bytes:
        """The error reply to a malformed frame."""

    def ack(self, seq: int, command: Command) -> bytes: ...

    def nak(self, seq: int, command: Command, error: str) -> bytes: ...

    def status(self, seq: int, fields: StatusFields) -> bytes: ...

    def identity(self, seq: int, model_code: int, serial: str) -> bytes: ...


class MbinWire:
    """Binary frames: one write is one frame."""

    idempotent_retries = True

    def frames(self, data: bytes) -> list[bytes | None]:
        return [bytes(data)]

    def reset(self) -> None:
        return None

    def decode(self, frame: bytes | None) -> tuple[int, Command]:
        return mbin.decode_command(frame or b"")

    def reject(self, error: FrameError) -> bytes:
        return mbin.encode_reply(mbin.nak_for(error))

    def ack(self, seq: int, command: Command) -> bytes:
        return mbin.encode_reply(mbin.Ack(seq, command.TYPE))

    def nak(self, seq: int, command: Command, error: str) -> bytes:
        return mbin.encode_reply(mbin.Nak(seq, mbin.COMMAND_OPS[type(command)], error))

    def status(self, seq: int, fields: StatusFields) -> bytes:
        return mbin.encode_reply(
            mbin.Status(
                seq,
                motor=fields.motor,
                heat_on=fields.heat_on,
                watchdog_tripped=fields.watchdog_tripped,
                low_battery=fields.low_battery,
                overheat=fields.overheat,
                heat_auto_off=fields.heat_auto_off,
                head=fields.head,
                intensity=fields.intensity,
                heat=fields.heat,
                mode=fields.mode,
                direction=fields.direction,
                temperature_c=max(0, min(254, round(fields.temperature_c))),
                battery=fields.battery,
            )
        )

    def identity(self, seq: int, model_code: int, serial: str) -> bytes:
        return mbin.encode_reply(mbin.Identity(seq, 1, model_code, *FIRMWARE_VERSION, serial))


class MasciiWire:
    """ASCII lines over a byte stream."""

    idempotent_retries = False

    def __init__(self) -> None:
        self._assembler = mascii.LineAssembler()

    def frames(self, data: bytes) -> list[bytes | None]:
        return self._assembler.feed(data)

    def reset(self) -> None:
        self._assembler.reset()

    def decode(self, frame: bytes | None) -> tuple[int, Command]:
        if frame is None:
            raise FrameError("line too long", kind="bad_length")
        return 0, mascii.decode_command(frame)

    def reject(self, error: FrameError) -> bytes:
        return mascii.encode_reply(mascii.nak_for(error))

    def ack(self, seq: int, command: Command) -> bytes:
        return mascii.encode_reply(mascii.Ack(command.TYPE))

    def nak(self, seq: int, command: Command, error: str) -> bytes:
        # mascii has no battery code; an empty battery is a refusal.
        name = error if error in mascii.ERROR_WORDS else "refused"
        return mascii.encode_reply(mascii.Nak(name, mascii.COMMAND_WORDS[type(command)]))

    def status(self, seq: int, fields: StatusFields) -> bytes:
        return mascii.encode_reply(
            mascii.Status(
                motor=fields.motor,
                head=fields.head,
                intensity=fields.intensity,
                heat=fields.heat,
                mode=fields.mode,
                temperature_c=round(fields.temperature_c, 1),
                heat_on=fields.heat_on,
                watchdog_tripped=fields.watchdog_tripped,
                low_battery=fields.low_battery,
                overheat=fields.overheat,
                heat_auto_off=fields.heat_auto_off,
            )
        )

    def identity(self, seq: int, model_code: int, serial: str) -> bytes:
        return mascii.encode_reply(mascii.Identity(model_code, "{}.{}".format(*FIRMWARE_VERSION), serial))


def wire_for(family: str) -> Wire:
    """The dialect of a protocol family.

    Raises:
        ValueError: an unknown family.
    """
    if family == "mbin":
        return MbinWire()
    if family == "mascii":
        return MasciiWire()
    raise ValueError(f"unknown protocol family {family!r}")
