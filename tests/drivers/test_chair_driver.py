"""The Rongtai-family chair driven whole: on the in-memory link in virtual time (looptime), and over a
real pty at 115200 8N1 with pyserial, as the board sits behind its Bluetooth-UART bridge.

Virtual time needs the in-memory link (``link=virtual``): a pty's bytes pass through the kernel in
real time, so under looptime an ack timeout could fire before they arrive. What the tests read back is
the simulator's own record (its state, the frames it received) and the wire log the controller wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.families import ProductFirmware, firmware_for
from firmware_sim.link import VirtualLink
from firmware_sim.opener import ServedProduct
from massager_ctl.catalog import Catalog
from massager_ctl.cli.devices_live import try_url
from massager_ctl.config import Caps
from massager_ctl.drivers.families import StepKey
from massager_ctl.drivers.massager import MassagerDriver
from massager_ctl.drivers.rongtai import ChairFamily
from massager_ctl.drivers.transact import Link
from massager_ctl.errors import CommandTimeoutError, ConnectError, DeviceError
from massager_ctl.events import EventBus, Notice
from massager_ctl.orchestrator import Plan, Session, SessionResult, preflight, resolve
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.person import AutoPerson
from massager_ctl.protocol.messages import GetStatus, SetHeat, StatusReport, Stop
from massager_ctl.transports.virtual import VirtualTransport
from massager_ctl.transports.wirelog import LoggedSource, WireLog
from tests.drivers.driver_support import Delayed, Scripted, product_firmware
from tests.orchestrator.orch_support import CATALOG, make_plan, make_routine
from tests.virtual_time import IN_MEMORY

MODEL = "rongtai-rt6923-chair"
URL = f"sim://{MODEL}?link=virtual"
ON_PTY = f"sim://{MODEL}"
ROUTINE = "chair-heated-back"
POWER = bytes.fromhex("f082017cf1")
HEAT_LEVEL_KEYS = {bytes.fromhex(h) for h in ("f0823c41f1", "f0823d40f1", "f0823e3ff1")}  # min, med, max


def key_frame_ok(frame: bytes) -> bool:
    """The public rule for a key frame, apart from both codecs: F0 CTRL KEY ~(CTRL+KEY)&7F F1."""
    return (
        len(frame) == 5
        and (frame[0], frame[4]) == (0xF0, 0xF1)
        and frame[1] == 0x82
        and frame[2] < 0x80
        and frame[3] == (~(frame[1] + frame[2]) & 0x7F)
    )


def status_frame_ok(frame: bytes) -> bool:
    """The public rule for a status frame: F0 b1..b14 ~sum(b1..b14)&7F F1, inner bytes below 0x80."""
    return (
        len(frame) == 17
        and (frame[0], frame[16]) == (0xF0, 0xF1)
        and max(frame[1:16]) < 0x80
        and frame[15] == (~sum(frame[1:15]) & 0x7F)
    )


class ChairClock:
    """From the simulated chair's own state: how long its heat was on, and how long it ran above a speed."""

    def __init__(self, firmware: ProductFirmware, *, above: int = 6) -> None:
        self._above = above
        self._heat_since: float | None = None
        self._fast_since: float | None = None
        self.heat_s = 0.0
        self.above_s = 0.0  # seconds at a speed above ``above``
        self.top_speed = 0
        firmware.subscribe(self._changed)

    def _changed(self, state: Any) -> None:
        now = asyncio.get_running_loop().time()
        self.top_speed = max(self.top_speed, state.speed)
        self._heat_since, self.heat_s = _lap(state.heat_on, self._heat_since, self.heat_s, now)
        fast = state.running and state.speed > self._above
        self._fast_since, self.above_s = _lap(fast, self._fast_since, self.above_s, now)


def _lap(on: bool, since: float | None, total: float, now: float) -> tuple[float | None, float]:
    if on and since is None:
        return now, total
    if not on and since is not None:
        return None, total + now - since
    return since, total


async def run_routine(
    plan: Plan, *, wire_log: WireLog | None = None
) -> tuple[SessionResult, ProductFirmware, ChairClock]:
    async with DeviceConnector(URL, catalog=CATALOG, wire_log=wire_log) as connector:
        source = connector.source
        if isinstance(source, LoggedSource):
            source = source.source
        assert isinstance(source, ServedProduct)
        assert source.virtual
        top = max(step.level or 0 for step in plan.steps)
        heat = ChairClock(source.firmware, above=top)
        session = Session(
            plan, connect=connector.connect, device_url=URL, bus=EventBus(), person=AutoPerson()
        )
        return await session.run(), source.firmware, heat


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@IN_MEMORY
async def test_the_heated_back_routine_runs_whole_on_the_chair_and_ends_stopped(tmp_path: Path) -> None:
    plan = preflight(CATALOG.routine(ROUTINE), CATALOG.device(MODEL), Caps())
    path = tmp_path / "wire.jsonl"
    async with WireLog(path) as log:
        result, firmware, heat = await run_routine(plan, wire_log=log)
    assert result.status == "completed", result.reason
    assert result.device_safe
    state = firmware.state
    assert (state.running, state.heat_on, state.speed) == (False, False, 0)
    received = list(firmware.received)
    assert received[-1] == POWER  # the stop: power off, confirmed by the status
    assert any(frame in HEAT_LEVEL_KEYS for frame in received)
    # heat within the routine's budget (ten minutes planned), as the chair itself had it on
    assert 0 < heat.heat_s <= plan.heat_budget_s
    assert heat.above_s == 0  # never faster than the routine's top level (3: the board's power-on speed)
    lines = read_log(path)
    sent = [bytes.fromhex(line["hex"]) for line in lines if line.get("dir") == "tx"]
    came = [bytes.fromhex(line["hex"]) for line in lines if line.get("dir") == "rx"]
    assert sent
    assert all(key_frame_ok(frame) for frame in sent)
    assert came
    assert all(status_frame_ok(frame) for frame in came)
    assert sent[-1] == POWER
    assert came[-1][1] & 0x40 == 0
    assert came[-1][2] & 0x40 == 0


@pytest.mark.looptime
async def test_the_speed_key_follows_power_at_once_and_the_cap_holds_but_for_that_moment() -> None:
    """The board's power-on speed is its own (3 in the simulator, above this cap of 2): the speed asked
    for is the very next key, so the chair runs above the cap only for one round trip on the link."""
    plan = make_plan(
        [{"title": "Gentle", "duration": 60, "device": {"head": "full-back", "intensity": 0.2}}],
        MODEL,
        caps=Caps(max_intensity=0.34),
    )
    result, firmware, clock = await run_routine(plan)
    assert result.status == "completed", result.reason
    received = list(firmware.received)
    first = received.index(POWER)
    assert received[first + 1] == bytes.fromhex("f0822e4ff1")  # speed 1
    assert clock.top_speed == 3  # it did start at its own speed
    assert 0 <= clock.above_s < 0.01  # over the in-memory link, no virtual time passes in between


@IN_MEMORY
async def test_a_killed_controller_leaves_the_chair_stopping_by_the_timer_the_session_set() -> None:
    """An 8-minute routine: the session restarts the chair's timer at 10 min, so the chair stops by then."""
    plan = make_plan(
        [
            {"title": "Knead", "duration": 60, "device": {"head": "full-back", "intensity": 0.3}},
            {"title": "Easing", "duration": 7 * 60, "device": {"intensity": 0.2}},
        ],
        MODEL,
    )
    async with DeviceConnector(URL, catalog=CATALOG) as connector:
        source = connector.source
        assert isinstance(source, ServedProduct)
        firmware = source.firmware
        bus = EventBus()
        events = bus.subscribe(maxsize=100_000, name="test")
        session = Session(plan, connect=connector.connect, device_url=URL, bus=bus, person=AutoPerson())
        task = asyncio.create_task(session.run())
        await asyncio.sleep(90)
        # the controller dies: nothing it sends reaches the chair any more, and its task is gone
        firmware.lose_incoming()
        killed_at = asyncio.get_running_loop().time()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert firmware.state.running  # a program runs on without its controller
        assert firmware.state.timer_min == 10  # the 10-min key: the shortest value covering the routine
        assert bytes.fromhex("f082502df1") in firmware.received
        notices = []
        while (event := events.get_nowait()) is not None:
            if isinstance(event, Notice):
                notices.append(event.message)
        assert any("device timer set to 10 min" in n for n in notices)
        stopped = asyncio.Event()
        firmware.subscribe(lambda state: None if state.running else stopped.set())
        await asyncio.wait_for(stopped.wait(), timeout=10 * 60 + 5)
        assert asyncio.get_running_loop().time() - killed_at <= 10 * 60
        assert not firmware.state.heat_on


@pytest.mark.looptime
async def test_devices_try_on_the_chair_exercises_heat_with_the_program_running_and_stops(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wire.jsonl"
    said: list[str] = []
    async with WireLog(path) as log:
        state = await try_url(URL, Catalog(), dwell_s=0.0, echo=said.append, wire_log=log)
    assert state.safe
    assert not state.motor
    assert any(line.startswith("heat high: motor on") and "heat 3" in line for line in said)
    assert said[-1].startswith("stopped (confirmed)")
    sent = [bytes.fromhex(line["hex"]) for line in read_log(path) if line.get("dir") == "tx"]
    assert all(key_frame_ok(frame) for frame in sent)
    assert sent[-1] == POWER


async def test_over_a_real_pty_the_chair_runs_heats_and_stops_with_every_frame_valid(tmp_path: Path) -> None:
    """Real time: the pty, pyserial and the chair's silence-means-idle on connect (1.5 s)."""
    path = tmp_path / "wire.jsonl"
    # the chair's clock four times faster: its once-a-second report (which answers the area key) every 0.25 s
    fast = f"{ON_PTY}?speed=4"
    async with WireLog(path) as log, DeviceConnector(fast, catalog=CATALOG, wire_log=log) as connector:
        source = connector.source
        assert isinstance(source, LoggedSource)
        assert isinstance(source.source, ServedProduct)
        served = source.source
        assert served.port is not None
        assert served.port.startswith("/dev/pts/")
        device = await connector.connect()
        try:
            assert device.state.safe  # nothing ran: the silence said so, and power was never pressed blind
            assert served.firmware.received.count(POWER) == 0
            await device.set_heat(1)  # held for the program: the board ignores heat keys while idle
            assert not served.firmware.state.heat_on
            state = await device.set_intensity(2)
            assert (state.motor, state.intensity, state.heat) == (True, 2, 1)
            chair = served.firmware.state
            assert (chair.running, chair.speed, chair.heat_on, chair.heat_level) == (True, 2, True, 1)
            stopped = await device.stop()
            assert stopped.safe
        finally:
            await device.close()
        assert not served.firmware.state.running
        assert not served.firmware.state.heat_on
    lines = read_log(path)
    sent = [bytes.fromhex(line["hex"]) for line in lines if line.get("dir") == "tx"]
    came = [bytes.fromhex(line["hex"]) for line in lines if line.get("dir") == "rx"]
    assert sent[0] == POWER
    assert sent[-1] == POWER
    assert all(key_frame_ok(frame) for frame in sent)
    assert came
    assert all(status_frame_ok(frame) for frame in came)


async def test_a_chair_held_by_another_program_is_refused_with_a_clear_error() -> None:
    async with DeviceConnector(f"{ON_PTY}?faults=refuse_connection=1", catalog=CATALOG) as connector:
        with pytest.raises(ConnectError, match="in use by another program"):
            await connector.connect()


def test_heat_with_the_motor_off_does_not_fit_the_chair() -> None:
    routine = make_routine(
        [{"title": "Warm only", "duration": 60, "device": {"intensity": 0.0, "heat": "low"}}]
    )
    plan = resolve(routine, CATALOG.device(MODEL), Caps())
    assert plan.problems == [
        f"step 1: heat 'low' with the motor off, but {MODEL} heats only while its massage runs"
    ]


def chair_status(*, running: bool, heat_on: bool = False, speed: int = 0) -> bytes:
    """A status frame built from the public layout (b1 bit 6 running, technique 1; b2 heat, speed)."""
    inner = bytearray(14)
    inner[0] = (0x40 | 1 << 3) if running else 0
    inner[1] = (0x40 if heat_on else 0) | speed << 2
    return bytes((0xF0, *inner, ~sum(inner) & 0x7F, 0xF1))


def test_a_toggle_is_never_pressed_twice_without_a_status_between() -> None:
    """Power whose answer was lost: pressing it again could start a chair that has just stopped."""
    family = ChairFamily(CATALOG.device(MODEL))
    family.decode(chair_status(running=True, speed=2))
    assert family.frames(Stop()) == [POWER]
    assert family.frames(Stop()) == []  # no status since: listen, do not press again
    report = family.decode(chair_status(running=True, speed=2))  # the press was lost: still running
    assert isinstance(report, StatusReport)
    assert family.answers(report, family.request_key(Stop()))  # the stop that listened learns where it is
    assert family.frames(Stop()) == [POWER]  # now known to run: pressing is safe
    family.decode(chair_status(running=False))
    assert family.held(Stop()) is not None  # stopped, as reported: nothing to press


def test_heat_left_on_while_idle_is_stopped_with_the_heat_toggle() -> None:
    family = ChairFamily(CATALOG.device(MODEL))
    family.decode(chair_status(running=False, heat_on=True))
    assert family.held(Stop()) is None
    assert family.frames(Stop()) == [bytes.fromhex("f0822756f1")]


@pytest.mark.looptime
async def test_an_unanswered_power_press_is_not_resent_blind() -> None:
    profile = CATALOG.device(MODEL)
    bench = Scripted()
    link = Link(profile, bench, ChairFamily(profile), ack_timeout_s=1.5, retries=1)
    link.opened = True
    reader = asyncio.create_task(link.read_loop())
    try:
        bench.inbox.put_nowait(chair_status(running=True, speed=2))
        await asyncio.sleep(0)
        with pytest.raises(CommandTimeoutError):
            await link.transact(lambda seq: Stop(seq=seq))  # the chair's answer never comes
        assert bench.sent == [POWER]  # the retry listened instead of pressing power again
    finally:
        reader.cancel()


@pytest.mark.looptime
async def test_a_chair_already_running_when_the_controller_connects_is_stopped_with_one_press() -> None:
    async with DeviceConnector(URL, catalog=CATALOG) as connector:
        firmware = product_firmware(connector)
        firmware.receive(POWER)  # someone started it from the chair's own remote
        assert firmware.state.running
        device = await connector.connect()
        try:
            assert device.state.safe
        finally:
            await device.close()
        assert not firmware.state.running
        assert list(firmware.received).count(POWER) == 2  # theirs, and one stop: never a blind second press


@pytest.mark.looptime
@pytest.mark.parametrize("stop_after_s", [0.0, 0.05, 0.1, 0.2])
async def test_a_stop_during_a_power_on_in_flight_leaves_the_chair_stopped(stop_after_s: float) -> None:
    """The stop must not be answered from the idle status the power-on has not yet replaced."""
    profile = CATALOG.device(MODEL)
    async with firmware_for(profile) as firmware:
        link = Delayed(VirtualTransport(VirtualLink(firmware)), recv_s=0.15)
        async with MassagerDriver(profile, link) as device:
            starting = asyncio.create_task(device.set_intensity(2))
            await asyncio.sleep(stop_after_s)
            state = await device.stop()
            with contextlib.suppress(DeviceError):
                await starting
            assert state.safe
            await asyncio.sleep(5)  # anything still on its way has landed
            assert not firmware.state.running
            assert not device.state.motor
        assert list(firmware.received).count(POWER) % 2 == 0  # every power-on matched by a power-off


@pytest.mark.looptime
async def test_the_timer_is_restarted_only_when_what_is_left_of_it_does_not_fit() -> None:
    profile = CATALOG.device(MODEL)
    async with (
        firmware_for(profile) as firmware,
        MassagerDriver(profile, VirtualTransport(VirtualLink(firmware))) as device,
    ):
        assert await device.arm_timer(600) is None  # nothing runs: the board's timer runs with a program
        await device.set_intensity(1)  # power-on: the board's own 20 minutes
        timer_keys = {bytes.fromhex(h) for h in ("f082502df1", "f082512cf1", "f082522bf1")}

        def presses() -> list[bytes]:
            return [frame for frame in firmware.received if frame in timer_keys]

        assert await device.arm_timer(15 * 60) == 20 * 60  # 20 min left covers 15 and is the shortest
        assert presses() == []
        assert await device.arm_timer(5 * 60) == 10 * 60  # 20 min is longer than needed: restart at 10
        assert presses() == [bytes.fromhex("f082502df1")]
        assert firmware.state.timer_min == 10
        await asyncio.sleep(5 * 60)
        assert await device.arm_timer(7 * 60) == 10 * 60  # 5 min left no longer covers 7: restart at 10
        assert presses() == [bytes.fromhex("f082502df1")] * 2
        assert firmware.state.remaining_s > 9 * 60
        assert await device.arm_timer(15 * 60) == 20 * 60  # 10 min does not cover 15: 20
        assert presses()[-1] == bytes.fromhex("f082512cf1")
        assert firmware.state.timer_min == 20


def test_a_status_request_while_the_chair_runs_waits_for_its_next_report() -> None:
    """A running board reports every second: its last report may be old, so the next one answers."""
    family = ChairFamily(CATALOG.device(MODEL))
    family.decode(chair_status(running=True, speed=2))
    assert family.held(GetStatus()) is None
    assert family.frames(GetStatus()) == []  # nothing to press: listen
    family.decode(chair_status(running=False))
    assert family.held(GetStatus()) is not None  # idle: silence is normal, the last report stands


def test_after_a_stop_a_new_program_does_not_bring_back_the_heat_asked_for_before() -> None:
    family = ChairFamily(CATALOG.device(MODEL))
    family.decode(chair_status(running=True, speed=2))
    assert family.frames(SetHeat(level=3)) == [bytes.fromhex("f0823e3ff1")]
    family.decode(chair_status(running=True, heat_on=True, speed=2))
    assert family.frames(Stop()) == [POWER]
    family.decode(chair_status(running=False))
    assert family.frames(StepKey("intensity", True, 0, target=2)) == [POWER]  # a new program
    family.decode(chair_status(running=True, speed=2))
    assert family.frames(StepKey("intensity", False, 2, target=2)) == [bytes.fromhex("f0822a53f1")]  # area
    family.decode(chair_status(running=True, speed=2))
    assert family.settled("intensity")  # and no heat key: nobody has asked for heat since the stop
