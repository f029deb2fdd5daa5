"""The device service without any transport: commands in, answers out, on the simulator in virtual time."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from firmware_sim import FirmwareState
from firmware_sim.opener import ServedSim
from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.events import BaseEvent, SessionFinished, Subscription, WaitingForConfirm
from massager_ctl.orchestrator.commands import (
    Answer,
    CommandError,
    Confirm,
    Head,
    Heat,
    Intensity,
    Pause,
    Resume,
    Select,
    Start,
    StopCommand,
    parse_command,
)
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.person import AutoPerson
from massager_ctl.orchestrator.service import DeviceService
from massager_ctl.orchestrator.service_events import DeviceUpdate, ServiceIdle
from massager_ctl.retry import Backoff
from tests.virtual_time import IN_MEMORY

pytestmark = IN_MEMORY

DEVICE = "sim://shiatsu-cushion-s3?link=virtual"
#: The slow cushion's simulator holds every ack (and what follows it) this long.
ACK_DELAY_S = 2.0
ROUTINE = """\
id: service-test
title: Service test
summary: Lie down, then the upper zone with heat and the lower zone, on the shiatsu cushion.
areas: [upper-back, lower-back]
tools: [electric-massager]
steps:
  - title: Lie down
    duration: 10
    confirm: true
    prompt:
      text: Lie on the cushion and confirm.
  - title: Upper with heat
    duration: 120
    device: {head: zone-upper, intensity: 1, heat: low}
  - title: Lower
    duration: 120
    device: {head: zone-lower, intensity: 2, heat: "off"}
"""


@dataclass
class Served:
    """A running service on one simulator, with everything it put on its bus."""

    service: DeviceService
    connector: DeviceConnector
    #: The served simulator, kept: the connector forgets its source once closed.
    sim: ServedSim
    subscription: Subscription
    stop: asyncio.Event
    seen: list[BaseEvent] = field(default_factory=list)

    @property
    def firmware(self) -> FirmwareState:
        state: FirmwareState = self.sim.simulator.firmware.state
        return state

    async def event(self, match: Callable[[BaseEvent], bool], *, within_s: float = 600.0) -> BaseEvent:
        """The first event from now on (in virtual seconds) for which ``match`` holds."""
        async with asyncio.timeout(within_s):
            while (event := await self.subscription.get()) is not None:
                self.seen.append(event)
                if match(event):
                    return event
        raise AssertionError("the bus closed")

    def last_device(self) -> Any:
        """The device state last put on the bus."""
        while (event := self.subscription.get_nowait()) is not None:
            self.seen.append(event)
        update = next(e for e in reversed(self.seen) if isinstance(e, DeviceUpdate))
        return update.state

    async def device(self, match: Callable[[Any], bool], *, within_s: float = 600.0) -> DeviceUpdate:
        """The next device update whose state matches."""
        update = await self.event(lambda e: isinstance(e, DeviceUpdate) and match(e.state), within_s=within_s)
        assert isinstance(update, DeviceUpdate)
        return update


@contextlib.asynccontextmanager
async def served(tmp_path: Path, device: str = DEVICE, **options: Any) -> AsyncIterator[Served]:
    folder = tmp_path / "routines"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service-test.yaml").write_text(ROUTINE)
    catalog = Catalog(routine_dirs=[folder], device_dirs=[slow_cushion(tmp_path)])
    async with DeviceConnector(device, catalog=catalog) as connector:
        service = DeviceService(
            connect=connector.connect,
            device_url=device,
            profile=catalog.device(device.removeprefix("sim://").split("?")[0]),
            catalog=catalog,
            caps=Caps(),
            backoff=Backoff(initial_s=0.5, max_s=2.0),
            **options,
        )
        subscription = service.bus.subscribe(maxsize=100_000, name="test")
        stop = asyncio.Event()
        run = asyncio.create_task(service.run(stop))
        assert isinstance(connector.source, ServedSim)
        serving = Served(service, connector, connector.source, subscription, stop)
        try:
            await serving.device(lambda s: s.connected)
            yield serving
        finally:
            stop.set()
            await asyncio.wait({run}, timeout=60)
            assert run.done()
            run.result()
    assert not serving.firmware.motor
    assert serving.firmware.heat == 0


def slow_cushion(tmp_path: Path) -> Path:
    """A folder with the S3 cushion as ``slow-cushion``: ack timeout 3 s, no retries (for slow acks)."""
    data = Catalog().device("shiatsu-cushion-s3").model_dump(mode="json")
    data["id"] = "slow-cushion"
    data["protocol"] = {**data["protocol"], "ack_timeout_s": 3.0, "retries": 0}
    folder = tmp_path / "devices"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "slow-cushion.yaml").write_text(json.dumps(data))  # JSON is YAML
    return folder


def ok(message: str, action: str, request_id: str | None = None) -> Answer:
    return Answer(ok=True, message=message, action=action, id=request_id)


async def test_a_routine_runs_on_command_and_stops_with_the_device_safe(tmp_path: Path) -> None:
    async with served(tmp_path) as serve:
        service = serve.service
        started = await service.handle(Start(routine="service-test", id="go", client="phone"))
        assert started.ok, started
        assert (started.id, started.client, started.action) == ("go", "phone", "start")
        session = service.session
        assert session is not None
        assert started.message == f"started service-test (session {session.id})"

        await serve.event(lambda e: isinstance(e, WaitingForConfirm))
        assert not serve.firmware.motor  # timing waits for the person
        assert await service.handle(Confirm()) == ok("confirmed", "confirm")
        await serve.device(lambda s: s.motor and s.head == "upper" and s.heat == 1)
        now = service.snapshot()  # what a front end joining now starts from
        assert now.connected
        assert now.device is not None
        assert (now.device.motor, now.device.head, now.selected) == (True, "upper", "service-test")
        assert now.session is not None
        assert (now.session.session_id, now.session.state, now.session.index) == (session.id, "running", 1)

        assert await service.handle(Pause(id="p")) == ok("paused", "pause", "p")
        await serve.device(lambda s: s.intensity == 0)
        assert await service.handle(Resume()) == ok("resumed", "resume")
        await serve.device(lambda s: s.intensity == 1)
        assert await service.handle(Intensity(delta=1)) == ok("intensity level 2", "intensity")

        stopped = await service.handle(StopCommand(id="s"))
        assert stopped == ok("stopping; the device is being made safe", "stop", "s")
        finished = await serve.event(lambda e: isinstance(e, SessionFinished))
        assert isinstance(finished, SessionFinished)
        assert (finished.status, finished.reason) == ("stopped", "stopped by a remote command")
        await asyncio.sleep(1)
        last = serve.last_device()
        assert (last.connected, last.motor, last.heat, last.stale) == (True, False, 0, False)
        assert service.session is None
        assert (serve.firmware.motor, serve.firmware.intensity, serve.firmware.heat) == (False, 0, 0)


async def test_bad_commands_are_answered_with_an_error_while_the_session_goes_on(tmp_path: Path) -> None:
    async with served(tmp_path, person=AutoPerson()) as serve:
        service = serve.service
        assert (await service.handle(Start(routine="service-test"))).ok
        await serve.device(lambda s: s.motor)

        with pytest.raises(CommandError) as malformed:
            parse_command(b'{"action": "explode", "id": "x"}')
        refused = await service.handle(malformed.value)
        assert (refused.ok, refused.id) == (False, "x")
        assert refused.message.startswith("unknown action 'explode'; expected one of start, pause")
        assert await service.handle(Start(routine="service-test")) == Answer(
            ok=False,
            action="start",
            message="a session is already running (service-test); stop it first",
        )
        head = await service.handle(Head(head="lower"))
        assert head.message == "the routine chooses the head while a session runs"
        heat = await service.handle(Heat(on=False))  # heat off is taken mid-session, never refused
        assert (heat.ok, heat.message) == (True, "heat off for the rest of the session")
        over = await service.handle(Intensity(level=3))
        assert over.message == "level 3 is above your cap (level 2 of 3)"
        unknown = await service.handle(Select(routine="no-such-routine"))
        assert unknown.message.startswith("unknown routine 'no-such-routine'; library routines: ")
        assert "service-test" in unknown.message

        finished = await serve.event(lambda e: isinstance(e, SessionFinished))
        assert isinstance(finished, SessionFinished)
        assert finished.status == "completed"
        assert [a.ok for a in (refused, head, over, unknown)] == [False] * 4


async def test_between_sessions_the_device_is_held_safe_and_commands_act_on_it(tmp_path: Path) -> None:
    async with served(tmp_path, person=AutoPerson()) as serve:
        service = serve.service
        first = serve.seen[0]  # before anything else: no session, none selected
        assert isinstance(first, ServiceIdle)
        assert first.routine is None
        assert await service.handle(Select(routine="service-test")) == ok("selected service-test", "select")
        selected = await serve.event(lambda e: isinstance(e, ServiceIdle))
        assert isinstance(selected, ServiceIdle)
        assert selected.routine == "service-test"

        assert (await service.handle(Start())).ok  # the selected routine
        await serve.device(lambda s: s.motor and s.heat == 1)
        await serve.event(lambda e: isinstance(e, SessionFinished))
        # Idle: motor and heat off, confirmed.
        await asyncio.sleep(1)
        last = serve.last_device()
        assert (last.connected, last.motor, last.intensity, last.heat, last.stale) == (
            True,
            False,
            0,
            0,
            False,
        )

        assert await service.handle(Head(head="lower")) == ok("head lower", "head")
        assert serve.firmware.head == "lower"
        assert await service.handle(Heat(on=False)) == ok("heat off", "heat")
        refused = await service.handle(Heat(on=True))
        assert refused.message.startswith("heat only runs inside a routine")
        stopped = await service.handle(StopCommand())
        assert stopped == ok("no session was running; the device is stopped", "stop")
        await asyncio.sleep(60)  # a minute of idle status reads: still connected, still off
        assert serve.last_device().connected
        assert not serve.firmware.motor

        second = await service.handle(Start(routine="service-test"))
        assert second.ok, second
        await serve.device(lambda s: s.motor)


async def test_a_link_dropped_while_idle_is_reopened(tmp_path: Path) -> None:
    device = f"{DEVICE}&faults=drop_link_at=20,reconnect_after=5"
    async with served(tmp_path, device, person=AutoPerson()) as serve:
        dropped = await serve.device(lambda s: not s.connected, within_s=60)
        assert dropped.state.connected is False
        refused = await serve.service.handle(Start(routine="service-test"))
        assert refused.message == "the device is not connected; it is being reconnected"

        await serve.device(lambda s: s.connected, within_s=60)
        started = await serve.service.handle(Start(routine="service-test"))
        assert started.ok, started
        await serve.device(lambda s: s.motor)


async def test_a_stop_is_not_queued_behind_a_slow_head_change(tmp_path: Path) -> None:
    slow = f"sim://slow-cushion?link=virtual&faults=ack_delay_s={ACK_DELAY_S}"
    async with served(tmp_path, slow) as serve:
        service = serve.service
        loop = asyncio.get_running_loop()
        await asyncio.sleep(3 * ACK_DELAY_S)  # the idle stop on connect is confirmed
        head = service.submit(Head(head="upper"))
        await asyncio.sleep(0.1)  # the head change is on the wire, its ack held back
        sent = loop.time()
        stopped = await service.handle(StopCommand())
        assert stopped == ok("no session was running; the device is stopped", "stop")
        # The stop went to the device at once, alongside the head change: one ack delay, not two.
        assert loop.time() - sent == pytest.approx(ACK_DELAY_S, abs=0.3)
        assert (await head) == ok("head upper", "head")
        assert (serve.firmware.motor, serve.firmware.heat, serve.firmware.head) == (False, 0, "upper")


async def test_two_services_run_side_by_side_in_one_process(tmp_path: Path) -> None:
    async with served(tmp_path / "a", person=AutoPerson()) as one, served(tmp_path / "b") as two:
        assert (await one.service.handle(Start(routine="service-test"))).ok
        await one.device(lambda s: s.motor)
        assert two.service.session is None
        refused = await two.service.handle(Pause())
        assert refused.message == "no session is running; 'pause' needs one"
        assert one.service.session is not None
        assert not two.firmware.motor


async def test_while_shutting_down_a_start_is_refused_and_a_stop_still_answered(tmp_path: Path) -> None:
    async with served(tmp_path, person=AutoPerson()) as serve:
        assert (await serve.service.handle(Start(routine="service-test"))).ok
        await serve.device(lambda s: s.motor)
        serve.stop.set()
        await asyncio.sleep(0)  # run() wakes and begins to shut down
        late = await serve.service.handle(Start(routine="service-test"))
        assert late.message == "the controller is shutting down"
        stopped = await serve.service.handle(StopCommand())
        assert stopped == ok("the controller is shutting down; the device is being made safe", "stop")
        finished = await serve.event(lambda e: isinstance(e, SessionFinished))
        assert isinstance(finished, SessionFinished)
        assert finished.reason == "the controller is shutting down"


async def test_heat_goes_to_the_session_while_one_runs_and_to_the_device_between_sessions(
    tmp_path: Path,
) -> None:
    async with served(tmp_path, person=AutoPerson()) as serve:
        service = serve.service
        assert (await service.handle(Start(routine="service-test"))).ok
        await serve.device(lambda s: s.motor and s.heat == 1)

        # Mid-session heat off is taken, never refused, and the session runs on without heat.
        off = await service.handle(Heat(on=False, id="off"))
        assert off == ok("heat off for the rest of the session", "heat", "off")
        await serve.device(lambda s: s.heat == 0)
        assert serve.firmware.motor
        assert service.session is not None
        # Heat on lets the routine's planned heat back, within its budget.
        on = await service.handle(Heat(on=True))
        assert on == ok("heat on where the routine plans it, within its heat budget", "heat")
        await serve.device(lambda s: s.heat == 1)

        assert (await service.handle(StopCommand())).ok
        await serve.event(lambda e: isinstance(e, SessionFinished))
        await asyncio.sleep(1)
        last = serve.last_device()
        assert (last.connected, last.motor, last.heat) == (True, False, 0)
        # Between sessions: heat on is refused, heat off is carried out on the device.
        refused = await service.handle(Heat(on=True))
        assert refused.message.startswith("heat only runs inside a routine")
        assert await service.handle(Heat(on=False)) == ok("heat off", "heat")


async def test_a_routine_that_fails_preflight_here_is_not_selected(tmp_path: Path) -> None:
    async with served(tmp_path) as serve:
        service = serve.service
        refused = await service.handle(Select(routine="upper-back-massage-gun", id=7))
        assert (refused.ok, refused.id) == (False, 7)
        assert refused.message.startswith(
            "upper-back-massage-gun does not pass pre-flight on shiatsu-cushion-s3: "
        )
        assert service.selected is None
        assert await service.handle(Select(routine="service-test")) == ok("selected service-test", "select")
