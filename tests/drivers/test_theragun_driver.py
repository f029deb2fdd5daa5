"""The driver speaks Theragun: an RPM per level, each set confirmed by the reply to a status request.

Every frame the simulator receives is checked against the public rule (``AA CK cmd …``, ``CK = sum of
bytes 2..end``) here, and the speed frames against the published examples.
"""

from __future__ import annotations

import pytest

from firmware_sim.opener import ServedProduct
from massager_ctl.catalog import Catalog
from massager_ctl.cli.devices_live import exercise
from massager_ctl.connect import new_driver, open_source
from massager_ctl.errors import DeviceRefusedError
from massager_ctl.registry import OpenContext
from massager_ctl.urls import parse_device_url

# the products run on the Bumble radio, in memory: every wait is in virtual time
pytestmark = pytest.mark.looptime

STATUS = bytes.fromhex("aa101000")
RPM_1750 = bytes.fromhex("aae3010306d603")  # published example frames
RPM_2400 = bytes.fromhex("aa700103096003")
STOP = bytes.fromhex("aa070103000003")


def theragun_frame_ok(frame: bytes) -> bool:
    return frame[0] == 0xAA and frame[1] == sum(frame[2:]) & 0xFF


@pytest.mark.parametrize("model", ["theragun-pro-4", "theragun-elite-4", "theragun-prime-4"])
async def test_devices_try_sets_rpms_confirmed_by_status_and_ends_stopped(
    catalog: Catalog, model: str
) -> None:
    lines: list[str] = []
    async with open_source(parse_device_url(f"sim://{model}"), OpenContext(catalog=catalog)) as source:
        assert isinstance(source, ServedProduct)
        firmware = source.firmware
        async with new_driver(source) as device:
            state = await device.set_intensity(1)
            assert (state.intensity, state.motor, state.assumed) == (1, True, False)
            assert firmware.state.rpm == catalog.device(model).intensity.percussions_per_min[0]
            state = await exercise(device, dwell_s=0, echo=lines.append)
        assert state.safe
        assert firmware.state.rpm == 0
    received = list(firmware.received)
    assert lines[-1].startswith("stopped (confirmed): motor off, intensity 0")
    assert all(theragun_frame_ok(f) for f in received)
    # each speed is followed by the status request whose reply confirms it; the last is the stop
    assert received[-2:] == [STOP, STATUS]
    speeds = [f for f in received if f[2] == 0x01]
    assert all(received[received.index(f) + 1] == STATUS for f in speeds)


async def test_the_published_rpm_frames_go_out_for_the_pro_levels(catalog: Catalog) -> None:
    async with open_source(parse_device_url("sim://theragun-pro-4"), OpenContext(catalog=catalog)) as source:
        assert isinstance(source, ServedProduct)
        async with new_driver(source) as device:
            await device.set_intensity(1)
            await device.set_intensity(5)
            assert source.firmware.state.rpm == 2400
            with pytest.raises(DeviceRefusedError, match="by hand"):
                await device.set_head("thumb")
        assert RPM_1750 in source.firmware.received
        assert RPM_2400 in source.firmware.received
