"""The simulated peripheral advertises like an accessory: every 20 ms for 30 s, then about once a second.

Counted as a scanner hears it (bleak over the Bumble central), in virtual time (looptime).
"""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from tests.sim.ble.ble_support import GUN, serve

pytestmark = pytest.mark.looptime


class Heard:
    """Counts the advertising events a scanner hears (one event may come as more than one report)."""

    def __init__(self) -> None:
        self.times: set[float] = set()

    def __call__(self, device: BLEDevice, advertisement: AdvertisementData) -> None:
        self.times.add(asyncio.get_running_loop().time())

    async def over(self, seconds: float) -> int:
        start = asyncio.get_running_loop().time()
        await asyncio.sleep(seconds)
        return sum(start < t <= start + seconds for t in self.times)


async def test_fast_for_thirty_seconds_then_slow_and_fast_again_after_a_central_leaves() -> None:
    # served inside the test: timers a fixture sets before looptime takes over the clock would lie
    # thousands of virtual seconds ahead
    async with serve(GUN) as gun:
        heard = Heard()
        radio = gun.radio
        async with BleakScanner(detection_callback=heard, backend=radio.central.scanner_backend):
            assert 95 <= await heard.over(2) <= 101  # 20 ms
        await asyncio.sleep(29)  # past the fast 30 s
        async with BleakScanner(detection_callback=heard, backend=radio.central.scanner_backend):
            assert 9 <= await heard.over(10) <= 11  # 1022.5 ms
            assert radio.peripheral.advertising  # slower, never silent

        async with BleakClient(radio.address, backend=radio.central.client_backend):
            assert not radio.peripheral.advertising  # one central at a time

        async with BleakScanner(detection_callback=heard, backend=radio.central.scanner_backend):
            assert 95 <= await heard.over(2) <= 101  # a fresh round starts fast
