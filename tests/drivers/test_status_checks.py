"""A status the model cannot be in is a ProtocolError: logged, dropped, and the reader keeps going."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.protocol import Message, StatusReport, mascii, mbin
from tests.drivers.driver_support import sim_device

LOOPTIME = pytest.mark.looptime
Z3_VIRTUAL = "sim://serial-cushion-z3?link=virtual"
GOOD = StatusReport(motor=True, head=2, intensity=3, heat=1, mode=0, temperature_c=30.0, heat_on=True)


@pytest.mark.parametrize(
    ("url", "encode", "bad", "message"),
    [
        # one over a real pty; the other checks of the line protocol on the in-memory link, in virtual time
        ("sim://serial-cushion-z3?link=pty", mascii.encode, {"heat": 7}, "heat level 7 (0-2)"),
        pytest.param(Z3_VIRTUAL, mascii.encode, {"head": 9}, "head code 9", marks=LOOPTIME),
        pytest.param(Z3_VIRTUAL, mascii.encode, {"intensity": 42}, "intensity 42 (0-10)", marks=LOOPTIME),
        pytest.param(Z3_VIRTUAL, mascii.encode, {"mode": 5}, "mode 5", marks=LOOPTIME),
        # the Bumble radio is in memory: virtual time
        pytest.param(
            "sim://shiatsu-cushion-s3?link=ble", mbin.encode, {"direction": 4}, "direction 4", marks=LOOPTIME
        ),
        pytest.param(
            "sim://shiatsu-cushion-s3?link=ble", mbin.encode, {"heat": 3}, "heat level 3", marks=LOOPTIME
        ),
    ],
    ids=["z3-heat", "z3-head", "z3-intensity", "z3-mode", "s3-direction", "s3-heat"],
)
async def test_an_out_of_range_status_is_dropped_and_the_state_kept(
    catalog: Catalog,
    caplog: pytest.LogCaptureFixture,
    url: str,
    encode: Callable[[Message], bytes],
    bad: dict[str, Any],
    message: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="massager_ctl.drivers")
    async with sim_device(url, catalog=catalog) as (device, sim):
        firmware = sim.firmware
        device.keepalive = False
        await device.set_intensity(3)
        before = device.state
        # the simulated firmware sends the crafted frame down the real link, as a buggy unit would
        firmware.send_raw(encode(replace(GOOD, **bad)))
        await asyncio.sleep(0.3)
        assert device.state == before
        assert "dropped a bad frame" in caplog.text
        assert f"status out of range for {device.profile.id}: {message}" in caplog.text
        # the reader is alive: the next real status still lands
        assert (await device.set_intensity(2)).intensity == 2
        assert firmware.state.intensity == 2
    assert firmware.state.intensity == 0
