"""Driver test helpers: the links each model is tested over, a simulated device to drive, a frame tap."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any, TypeVar

import pytest

from firmware_sim import Firmware, SimulatedDevice
from firmware_sim.families import ProductFirmware
from firmware_sim.opener import ServedProduct, serve_sim
from massager_ctl.catalog import Catalog
from massager_ctl.connect import new_driver
from massager_ctl.drivers import DriverOptions, MassagerDriver
from massager_ctl.errors import ProtocolError
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.protocol import Command, mascii, mbin
from massager_ctl.registry import OpenContext
from massager_ctl.transports.base import Transport
from massager_ctl.transports.wirelog import LoggedSource
from massager_ctl.urls import parse_device_url

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


# The Bumble radio and the virtual link live in the event loop: nothing arrives from outside it, so
# they run in virtual time (looptime). A pty and a TCP socket are kernel I/O: they keep the real clock.
IN_MEMORY_LINKS = ("ble", "virtual")



def links(cases: list[tuple[str, str]]) -> list[Any]:
    """``cases`` as parameters for ``parametrize("case", ...)``, the in-memory links in virtual time."""
    return [
        pytest.param(case, id=link_id(case), marks=[pytest.mark.looptime] * (case[1] in IN_MEMORY_LINKS))
        for case in cases
    ]


@contextlib.asynccontextmanager
async def sim_device(
    url: str, *, catalog: Catalog, options: DriverOptions | None = None
) -> AsyncIterator[tuple[MassagerDriver, SimulatedDevice]]:
    """The open driver of a ``sim://`` URL, as ``open_device`` gives it, and the simulator behind it."""
    parsed = parse_device_url(url)
    speed = parsed.number("speed", 1.0)
    async with (
        serve_sim(parsed, OpenContext(catalog=catalog)) as served,
        new_driver(served, options=options, speed=speed) as device,
    ):
        yield device, served.simulator


class FirmwareTap:
    """Records every command the simulated firmware receives, decoded with the controller's codec.

    It watches the link through the firmware's ``on_frame`` hook, so the device behaves exactly as
    without it.
    """

    def __init__(self, firmware: Firmware) -> None:
        self.commands: list[Command] = []
        family = firmware.profile.protocol.family
        self._decode = mascii.decode if family == "mascii" else mbin.decode
        firmware.on_frame(self._seen)

    def _seen(self, direction: str, frame: bytes) -> None:
        if direction != "in":
            return
        try:
            message = self._decode(frame)
        except ProtocolError:
            return
        self.commands.append(message)  # type: ignore[arg-type]

    def count(self, kind: type[object]) -> int:
        return sum(isinstance(c, kind) for c in self.commands)

    def of(self, kind: type[CommandT]) -> list[CommandT]:
        return [c for c in self.commands if isinstance(c, kind)]


class Scripted(Transport):
    """A link whose device says only what the test puts in its ``inbox``; it records what is sent.

    Args:
        chunks: what the device has said already.
        message_oriented: one chunk is one frame (else a byte stream the reader cuts).
    """

    def __init__(self, chunks: Iterable[bytes] = (), *, message_oriented: bool = True) -> None:
        self.message_oriented = message_oriented
        self.sent: list[bytes] = []
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        for chunk in chunks:
            self.inbox.put_nowait(chunk)

    @property
    def description(self) -> str:
        return "scripted"

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    async def recv(self) -> bytes:
        return await self.inbox.get()


class Delayed(Transport):
    """A link whose frames arrive late: ``send_s`` on the way to the device, ``recv_s`` on the way back.

    The latency of a radio or a slow device, injected as a transport (no firmware internals touched).
    """

    def __init__(self, inner: Transport, *, send_s: float = 0.0, recv_s: float = 0.0) -> None:
        self._inner = inner
        self._send_s = send_s
        self._recv_s = recv_s
        self.message_oriented = inner.message_oriented

    @property
    def description(self) -> str:
        return self._inner.description

    async def open(self) -> None:
        await self._inner.open()

    async def close(self) -> None:
        await self._inner.close()

    async def send(self, data: bytes) -> None:
        await asyncio.sleep(self._send_s)
        await self._inner.send(data)

    async def recv(self) -> bytes:
        data = await self._inner.recv()
        await asyncio.sleep(self._recv_s)
        return data


def product_firmware(connector: DeviceConnector) -> ProductFirmware:
    """The simulated firmware behind a connector's ``sim://`` product (through its wire log, if any)."""
    source = connector.source
    if isinstance(source, LoggedSource):
        source = source.source
    assert isinstance(source, ServedProduct)
    return source.firmware
