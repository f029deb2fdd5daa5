"""The Keeson simulator's status stream read by the controller's codec: noisy checksums are counted."""

from __future__ import annotations

import asyncio

from firmware_sim.families import ProductFaults, firmware_for
from massager_ctl.catalog import Catalog
from massager_ctl.protocol import keeson

HEAD_UP = keeson.encode(keeson.KeyPress(keeson.KEY_HEAD_MASSAGE_UP))


async def test_controller_codec_accepts_and_counts_bad_and_stale_frames_from_the_simulator() -> None:
    frames: list[bytes] = []
    enough = asyncio.Event()

    def sink(frame: bytes) -> None:
        frames.append(frame)
        if len(frames) >= 30:
            enough.set()

    faults = ProductFaults(bad_checksum_every=5, stale_checksum_every=3)
    async with firmware_for(Catalog().device("keeson-base-i4"), speed=50, faults=faults) as base:
        base.connect(sink)
        base.receive(HEAD_UP)
        async with asyncio.timeout(5):
            await enough.wait()
        base.disconnect(sink)
    tally = keeson.StatusTally()
    decoded = []
    for frame in frames[:30]:
        status = keeson.decode_status(frame)
        tally.add(frame, status)
        decoded.append(status)
    # frames 5, 10, ... are garbled; 3, 6, 9, ... (not also a 5th) carry the last good checksum
    assert tally.bad == 6
    assert tally.stale == 8
    assert tally.good == 16
    assert all(s.head_massage == 1 for s in decoded[1:])
    assert {s.timer_min for s in decoded[1:]} == {10}


async def test_status_stops_when_the_controller_leaves_and_the_timer_still_runs() -> None:
    # the link's send is a bound method, a new object at each access: the firmware must still know it
    frames: list[bytes] = []
    async with firmware_for(Catalog().device("keeson-base-i4"), speed=50) as base:
        base.connect(frames.append)
        base.receive(HEAD_UP)
        await asyncio.sleep(0.05)
        base.disconnect(frames.append)
        count = len(frames)
        await asyncio.sleep(0.05)
        assert len(frames) == count
        assert base.state.massage_on
        assert 0 < base.state.remaining_s < 600


async def test_the_base_streams_the_status_form_it_is_given_and_keeps_it_when_held_elsewhere() -> None:
    frames: list[bytes] = []
    faults = ProductFaults(status_form="f0")
    async with firmware_for(Catalog().device("keeson-base-i4"), speed=50, faults=faults) as base:
        base.hold_elsewhere(True)
        base.hold_elsewhere(False)
        base.connect(frames.append)
        base.receive(HEAD_UP)
        base.disconnect(frames.append)
    assert [(len(f), f[0]) for f in frames] == [(19, 0xF0)] * 2
    status = keeson.decode_status(frames[-1])
    assert (status.form, status.checksum_ok, status.head_massage, status.timer_min) == ("f0", True, 1, 10)
