"""Helpers for the BLE simulator tests: a served firmware, a notification inbox, mbin bytes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bleak.backends.characteristic import BleakGATTCharacteristic

from firmware_sim import FaultSpec, Firmware
from firmware_sim.ble import BleProfile, BleSimulator
from massager_ctl.catalog import Catalog

GUN = "pulse-gun-p5"
SHIATSU = "shiatsu-cushion-s3"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE = "0000180f-0000-1000-8000-00805f9b34fb"
CCCD = "00002902-0000-1000-8000-00805f9b34fb"
HELLO = bytes.fromhex("a5 01 01 00 fd")


@dataclass
class Rig:
    firmware: Firmware
    profile: BleProfile
    radio: BleSimulator


class Inbox:
    """Collects notifications from a bleak ``start_notify`` callback, in arrival order."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()

    def __call__(self, sender: BleakGATTCharacteristic, data: bytearray) -> None:
        self._queue.put_nowait(bytes(data))

    async def next(self, within_s: float = 1.0) -> bytes:
        async with asyncio.timeout(within_s):
            return await self._queue.get()

    def empty(self) -> bool:
        return self._queue.empty()


def ble_profile(firmware: Firmware) -> BleProfile:
    spec = firmware.profile.ble
    assert spec is not None
    return BleProfile.from_catalog(firmware.profile.id, spec.model_dump(), serial=firmware.serial)


@contextlib.asynccontextmanager
async def serve(
    model: str, *, faults: FaultSpec | None = None, hci_port: int | None = None
) -> AsyncIterator[Rig]:
    """A started firmware for ``model`` behind a running ``BleSimulator``."""
    async with Firmware(Catalog().device(model), faults=faults) as firmware:
        profile = ble_profile(firmware)
        async with BleSimulator(firmware, profile, hci_port=hci_port) as radio:
            yield Rig(firmware, profile, radio)


def checksum(body: bytes) -> int:
    """mbin CK over SEQ, OP, LEN and payload (docs/protocols.md)."""
    return ~sum(body) & 0xFF


def frame(seq: int, op: int, payload: bytes = b"") -> bytes:
    """An mbin frame, built from the spec independently of either codec."""
    body = bytes([seq, op, len(payload)]) + payload
    return b"\xa5" + body + bytes([checksum(body)])


def payload_of(raw: bytes, *, seq: int, op: int) -> bytes:
    """Check an mbin frame's framing and checksum and return its payload."""
    assert raw[0] == 0xA5, raw.hex(" ")
    assert (raw[1], raw[2]) == (seq, op), raw.hex(" ")
    assert len(raw) == 5 + raw[3], raw.hex(" ")
    assert raw[-1] == checksum(raw[1:-1]), raw.hex(" ")
    return raw[4:-1]
