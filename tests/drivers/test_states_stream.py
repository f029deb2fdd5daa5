"""``states()``: a slow reader gets the latest states and the stream's end, never an unbounded backlog."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from massager_ctl.catalog import Catalog
from massager_ctl.connect import open_device
from massager_ctl.drivers import DeviceState, DriverOptions
from massager_ctl.drivers.massager import STATES_BACKLOG


async def test_a_slow_states_reader_keeps_the_latest_and_sees_the_end(catalog: Catalog) -> None:
    seen: list[DeviceState] = []
    gate = asyncio.Event()
    options = DriverOptions(min_command_gap_s=0.0)
    async with open_device("sim://pulse-gun-p5?link=virtual", catalog=catalog, options=options) as device:
        subscribed = asyncio.Event()

        async def slow_reader() -> None:
            subscribed.set()
            async for state in device.states():
                seen.append(state)
                await gate.wait()

        reader = asyncio.create_task(slow_reader())
        await subscribed.wait()
        await asyncio.sleep(0)
        for i in range(40):
            await device.set_intensity(1 + i % 2)
    # closing stopped the device: that state and the end of the stream got in past the backlog
    final = device.state
    gate.set()
    async with asyncio.timeout(2):
        await reader
    assert len(seen) <= 1 + STATES_BACKLOG
    assert seen[-1].intensity == 0
    assert not seen[-1].motor
    assert replace(seen[-1], connected=False) == final  # the stream ended on the confirmed stop
