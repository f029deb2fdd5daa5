"""A driver never leaves a caller hanging: a bug in a lane or the reader, or a close mid-command.

The device is the real simulator; the bugs are injected into the driver's own protocol adaptor
(wrapping the real codec, handed to the driver as its ``codec``), since no well-formed device
behaviour can trigger them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from firmware_sim import SimulatedDevice
from firmware_sim.opener import serve_sim
from massager_ctl.catalog import Catalog
from massager_ctl.drivers import DriverOptions, MassagerDriver
from massager_ctl.drivers.families import KeyPress, MasciiFamily
from massager_ctl.errors import LinkLostError
from massager_ctl.protocol import Message, SetHeat, StatusReport
from massager_ctl.registry import OpenContext
from massager_ctl.urls import parse_device_url
from tests.drivers.driver_support import sim_device


class _Buggy(MasciiFamily):
    """The real ``mascii`` adaptor with one bug: encoding ``SetHeat`` or decoding a status fails."""

    def __init__(self, *, encode_fails: bool = False, decode_fails: bool = False) -> None:
        self.encode_fails = encode_fails
        self.decode_fails = decode_fails

    def encode(self, message: Message | KeyPress) -> bytes:
        if self.encode_fails and isinstance(message, SetHeat):
            raise RuntimeError("encoder bug")
        return super().encode(message)

    def decode(self, data: bytes) -> Message:
        message = super().decode(data)
        if self.decode_fails and isinstance(message, StatusReport):
            raise KeyError("decoder bug")
        return message


@contextlib.asynccontextmanager
async def _device_with(
    codec: _Buggy, *, catalog: Catalog
) -> AsyncIterator[tuple[MassagerDriver, SimulatedDevice]]:
    """The open driver of the simulated ``serial-cushion-z3`` on a pty, speaking through ``codec``."""
    url = parse_device_url("sim://serial-cushion-z3?link=pty")
    async with (
        serve_sim(url, OpenContext(catalog=catalog)) as served,
        MassagerDriver(served.profile, served.new_transport(), codec=codec) as device,
    ):
        yield device, served.simulator


async def test_a_bug_in_the_settings_lane_fails_the_callers_instead_of_hanging(catalog: Catalog) -> None:
    codec = _Buggy()
    async with _device_with(codec, catalog=catalog) as (device, _):
        await device.set_intensity(2)
        codec.encode_fails = True
        queued = asyncio.create_task(device.set_intensity(3))
        async with asyncio.timeout(5):
            with pytest.raises(LinkLostError, match="the settings lane failed: RuntimeError") as caught:
                await device.set_heat(1)
            assert isinstance(caught.value.__cause__, RuntimeError)
            # a setting queued behind it and every later one fail at once too
            with pytest.raises(LinkLostError):
                await queued
            with pytest.raises(LinkLostError):
                await device.set_intensity(4)
        assert not device.state.connected


async def test_a_bug_in_the_reader_is_a_lost_link_not_a_string_of_timeouts(catalog: Catalog) -> None:
    codec = _Buggy()
    async with _device_with(codec, catalog=catalog) as (device, sim):
        device.keepalive = False
        codec.decode_fails = True
        async with asyncio.timeout(device.profile.protocol.ack_timeout_s):  # less than one command timeout
            with pytest.raises(LinkLostError, match="the reader failed: KeyError") as caught:
                await device.set_intensity(3)
        assert isinstance(caught.value.__cause__, KeyError)
        assert not device.state.connected
        # the firmware got the command: the watchdog (no keepalive any more) is what stops it now
        assert sim.firmware.state.intensity == 3


@pytest.mark.looptime
async def test_closing_while_a_setting_waits_for_its_ack_answers_the_caller(catalog: Catalog) -> None:
    # the firmware stops answering once it is open: the setting waits for an ack that never comes
    # (the lanes, not the link, are under test: the in-memory link, in virtual time)
    url = "sim://serial-cushion-z3?link=virtual&faults=stall_at=0.5,stall_s=60"
    options = DriverOptions(ack_timeout_s=2.0, retries=0)
    async with sim_device(url, catalog=catalog, options=options) as (device, sim):
        device.keepalive = False
        await asyncio.sleep(max(0.0, 0.6 - sim.firmware.state.t))  # speed 1: firmware s = s
        setting = asyncio.create_task(device.set_intensity(3))
        await asyncio.sleep(0.1)
        # a caller giving up on close (as a session does with a time limit) cancels the lanes
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await device.close()
        async with asyncio.timeout(1):
            with pytest.raises(LinkLostError, match="driver closed"):
                await setting
