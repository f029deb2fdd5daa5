"""Strict mode: a firmware bug fails the test that hit it; by default the simulator logs it and runs on."""

from __future__ import annotations

import asyncio

import pytest

from firmware_sim import FaultSpec, Firmware, FirmwareBugError, SimulatedDevice, mascii
from firmware_sim.firmware import STRICT_ENV
from firmware_sim.messages import Ping, SetIntensity
from massager_ctl.catalog import Catalog
from tests.virtual_time import IN_MEMORY

SERIAL = "serial-cushion-z3"


class Bug(Exception):
    """A stand-in for a firmware defect, planted on purpose."""


def plant_bug(firmware: Firmware) -> None:
    """A failure while the firmware takes a setting frame, planted through the public frame hook."""

    def broken(direction: str, frame: bytes) -> None:
        if direction == "in" and frame.startswith(b"$INT"):
            raise Bug(f"cannot apply {frame!r}")

    firmware.on_frame(broken)


async def test_strict_firmware_raises_to_the_sender_and_on_close() -> None:
    device = SimulatedDevice(Catalog().device(SERIAL), strict=True)
    await device.start()
    plant_bug(device.firmware)
    link = device.virtual_link()
    with pytest.raises(Bug, match="cannot apply"):
        await link.send(mascii.encode_command(SetIntensity(3)))
    assert [type(e) for e in device.firmware.failures] == [Bug]
    with pytest.raises(FirmwareBugError, match="failed 1 time") as caught:
        await device.aclose()
    assert isinstance(caught.value.__cause__, Bug)
    await device.aclose()  # still idempotent


async def test_default_firmware_logs_the_bug_and_keeps_serving(caplog: pytest.LogCaptureFixture) -> None:
    async with SimulatedDevice(Catalog().device(SERIAL), strict=False) as device:
        plant_bug(device.firmware)
        link = device.virtual_link()
        await link.send(mascii.encode_command(SetIntensity(3)))  # swallowed and logged
        await link.send(mascii.encode_command(Ping()))
        assert link.recv_nowait() == mascii.encode_reply(mascii.Ack("ping"))
        assert [type(e) for e in device.firmware.failures] == [Bug]
    assert "firmware failed on frame b'$INT,3" in caplog.text


@IN_MEMORY
async def test_strict_catches_failures_outside_receive_timers_included() -> None:
    device = SimulatedDevice(Catalog().device(SERIAL), faults=FaultSpec(drop_link_at=1.0), strict=True)
    await device.start()

    def broken_front_end() -> None:
        raise Bug("front-end callback")

    device.firmware.on_link_drop(broken_front_end)
    await asyncio.sleep(1.5)  # the drop timer ran the failing callback; the firmware ran on
    assert not device.firmware.link_available
    assert [str(e) for e in device.firmware.failures] == ["front-end callback"]
    with pytest.raises(FirmwareBugError):
        await device.aclose()


def test_strict_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = Catalog().device(SERIAL)
    assert Firmware(profile).strict  # this folder's fixture sets MASSAGER_SIM_STRICT=1
    assert not Firmware(profile, strict=False).strict
    monkeypatch.delenv(STRICT_ENV)
    assert not Firmware(profile).strict
    assert Firmware(profile, strict=True).strict
