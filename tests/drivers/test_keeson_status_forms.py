"""The driver runs a Keeson base whichever of the three status layouts it sends (ED, F0, F1).

Real units send a 16-byte ``ED FE 16`` status, a 19-byte ``F0 FE 16`` one (time left at bytes 10-12,
timer at 15) or a 20-byte ``F1 FE 16`` one (time left at 9-11, timer at 14). The simulated base is
told which by its ``status_form`` option on the ``sim://`` URL; the driver must confirm levels, read
the timer back and confirm the stop from each. Virtual time (looptime) over the Bumble radio; every
frame is checked here against the public layout, independently of both codecs.
"""

from __future__ import annotations

import pytest

from firmware_sim.families import ProductFaults
from firmware_sim.opener import ServedProduct
from massager_ctl.catalog import Catalog
from massager_ctl.connect import new_driver, open_source
from massager_ctl.errors import ConfigError
from massager_ctl.registry import OpenContext
from massager_ctl.urls import parse_device_url
from tests.drivers.test_keeson_driver import HEAD_PLUS, MASSAGE_OFF, RELEASE, key_frame_ok

TIMER_STEP = bytes.fromhex("e5fe160002000004")
# form -> (header, length, offset of the time left LE24, offset of the timer byte)
LAYOUT = {"ed": (0xED, 16, 9, 14), "f0": (0xF0, 19, 10, 15), "f1": (0xF1, 20, 9, 14)}
TIMER_CODES = {1: 10, 2: 20, 3: 30, 0xFF: None}


def read_status(frame: bytes, form: str) -> tuple[int, int, float, int | None]:
    """Head level, foot level, seconds left and timer minutes of one status frame in ``form``."""
    header, length, left_at, timer_at = LAYOUT[form]
    assert (len(frame), frame[0], frame[1:3]) == (length, header, b"\xfe\x16")
    assert frame[-1] == (~sum(frame[:-1])) & 0xFF
    left = int.from_bytes(frame[left_at : left_at + 3], "little") / 100
    return frame[7], frame[8], left, TIMER_CODES[frame[timer_at]]


@pytest.mark.looptime
@pytest.mark.parametrize("form", ["ed", "f0", "f1"])
async def test_the_driver_runs_a_base_sending_each_status_form(catalog: Catalog, form: str) -> None:
    url = parse_device_url(f"sim://keeson-base-i4?faults=status_form={form}")
    async with open_source(url, OpenContext(catalog=catalog)) as source:
        assert isinstance(source, ServedProduct)
        firmware = source.firmware
        notified: list[bytes] = []
        firmware.on_frame(lambda way, frame: notified.append(frame) if way == "out" else None)
        async with new_driver(source) as device:
            state = await device.set_intensity(3)
            assert (state.head, state.intensity, state.motor) == ("head", 3, True)
            assert firmware.state.head_massage == 3
            # 15 minutes to cover: the timer key pressed 10 -> 20, read back from this form's timer byte
            assert await device.arm_timer(15 * 60) == 20 * 60
            assert firmware.state.timer_min == 20
            state = await device.stop()
            assert state.safe
            assert not firmware.state.massage_on
        received = list(firmware.received)
    assert received[:3] == [HEAD_PLUS] * 3
    assert received.count(TIMER_STEP) == 1
    assert received[-2:] == [MASSAGE_OFF, RELEASE]
    assert all(key_frame_ok(f) for f in received)
    readings = [read_status(frame, form) for frame in notified]
    assert (3, 0) in [(head, foot) for head, foot, _, _ in readings]
    running = [(left, timer) for head, _, left, timer in readings if head == 3]
    assert 20 * 60 - 1 < running[-1][0] <= 20 * 60
    assert running[-1][1] == 20
    assert readings[-1][:2] == (0, 0)


def test_status_form_is_chosen_by_name_and_checked() -> None:
    assert ProductFaults.parse("status_form=f1, bad_checksum_every=4") == ProductFaults(
        status_form="f1", bad_checksum_every=4
    )
    with pytest.raises(ConfigError, match="status_form='f2': give one of ed, f0, f1"):
        ProductFaults.parse("status_form=f2")
