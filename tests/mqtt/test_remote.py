"""``serve`` in process: the device service on the simulator behind MQTT, a real mosquitto, MQTT commands."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import massager_ctl.catalog as catalog_module
from firmware_sim import mbin
from firmware_sim.messages import SetHead, Stop
from firmware_sim.opener import ServedSim
from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.mqtt import make_topics, parse_broker_url, service_status
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.person import AutoPerson, HandsOnPerson
from massager_ctl.orchestrator.service import DeviceService
from massager_ctl.retry import Backoff
from tests.mqtt.mqtt_support import Broker, Watcher, watch, write_routine

pytestmark = pytest.mark.slow  # each test starts mosquitto

BASE = "massager/dev1"
#: The simulator holds every ack (and what follows it) this long: a slow device.
ACK_DELAY_S = 2.0


@dataclass
class Serving:
    service: DeviceService
    connector: DeviceConnector
    watcher: Watcher
    stop: asyncio.Event
    run: asyncio.Task[None]

    @property
    def firmware_state(self) -> Any:
        assert isinstance(self.connector.source, ServedSim)
        return self.connector.source.simulator.firmware.state

    async def send(self, body: dict[str, Any]) -> None:
        """Publish a command."""
        await self.watcher.client.publish(f"{BASE}/cmd", json.dumps(body), qos=1)

    async def answer(self, request_id: str, *, within_s: float = 10.0) -> dict[str, Any]:
        """The answer to ``request_id``."""
        payload = await self.watcher.wait_for(
            f"{BASE}/cmd/result", lambda p: json.loads(p)["id"] == request_id, within_s=within_s
        )
        body: dict[str, Any] = json.loads(payload)
        return body

    def answers(self, request_id: str) -> list[dict[str, Any]]:
        found = [json.loads(p) for p in self.watcher.on(f"{BASE}/cmd/result")]
        return [a for a in found if a["id"] == request_id]


@contextlib.asynccontextmanager
async def serving(
    broker: Broker,
    device: str,
    *,
    catalog: Catalog,
    auto_confirm: bool = False,
    fit_head: Callable[[str], None] | None = None,
) -> AsyncIterator[Serving]:
    connector = DeviceConnector(device, catalog=catalog)
    model = connector.model
    assert model is not None
    profile = catalog.device(model)
    topics = make_topics(prefix="massager", device_id="dev1")
    service = DeviceService(
        connect=connector.connect,
        device_url=device,
        profile=profile,
        catalog=catalog,
        caps=Caps(),
        person=HandsOnPerson(fit_head) if fit_head else AutoPerson() if auto_confirm else None,
        backoff=Backoff(initial_s=0.05, max_s=0.2),
    )
    stop = asyncio.Event()
    async with (
        watch(broker, f"{BASE}/#") as watcher,
        connector,
        service_status(service, broker=parse_broker_url(broker.url), topics=topics, discovery=False),
    ):
        run = asyncio.create_task(service.run(stop))
        try:
            await watcher.wait_for(f"{BASE}/state", lambda p: json.loads(p)["connected"], within_s=10)
            yield Serving(service, connector, watcher, stop, run)
        finally:
            stop.set()
            await asyncio.wait({run}, timeout=30)
            assert run.done()


class WireLog:
    """The frames the served simulator received ("in") and sent ("out"), decoded, in order."""

    def __init__(self, serve: Serving) -> None:
        assert isinstance(serve.connector.source, ServedSim)
        self.frames: list[tuple[str, int, object]] = []
        self._arrived = asyncio.Event()
        serve.connector.source.simulator.firmware.on_frame(self._seen)

    def _seen(self, direction: str, frame: bytes) -> None:
        if direction == "in":
            seq, command = mbin.decode_command(frame)
            self.frames.append(("in", seq, command))
        else:
            reply = mbin.decode_reply(frame)
            self.frames.append(("out", reply.seq, reply))
        self._arrived.set()

    def index(self, direction: str, kind: type[object]) -> int:
        return next(i for i, (d, _, m) in enumerate(self.frames) if d == direction and isinstance(m, kind))

    async def received(self, kind: type[object]) -> None:
        while not any(d == "in" and isinstance(m, kind) for d, _, m in self.frames):
            self._arrived.clear()
            await self._arrived.wait()


def slow_catalog(tmp_path: Path, *, routines: Path | None = None) -> Catalog:
    """The S3 cushion as ``slow-cushion``, patient enough (ack timeout 3 s, no retries) for ACK_DELAY_S."""
    source = Catalog().device("shiatsu-cushion-s3")
    data = source.model_dump(mode="json")
    data["id"] = "slow-cushion"
    data["protocol"] = {**data["protocol"], "ack_timeout_s": 3.0, "retries": 0}
    folder = tmp_path / "devices"
    folder.mkdir()
    (folder / "slow-cushion.yaml").write_text(json.dumps(data))  # JSON is YAML
    return Catalog(device_dirs=[folder], routine_dirs=[routines] if routines else [])


async def test_stop_is_not_held_up_by_a_slow_head_change(broker: Broker, tmp_path: Path) -> None:
    catalog = slow_catalog(tmp_path)
    device = f"sim://slow-cushion?link=virtual&faults=ack_delay_s={ACK_DELAY_S}"
    async with serving(broker, device, catalog=catalog) as serve:
        # Settle: the first heat-off queues behind the idle stop serve sends on connect.
        await serve.send({"action": "heat", "on": False, "id": "settle"})
        settled = await serve.answer("settle", within_s=3 * ACK_DELAY_S + 2)
        assert settled["ok"], settled

        wire = WireLog(serve)
        await serve.send({"action": "head", "head": "upper", "id": "head"})
        async with asyncio.timeout(10):  # the head change is on the wire, its ack held back
            await wire.received(SetHead)
        await serve.send({"action": "stop", "id": "stop"})
        stopped = await serve.answer("stop")
        moved = await serve.answer("head")

        # The stop went to the device at once, alongside the head change: the device got it while the
        # head change's ack was still held back, not after it.
        assert stopped == {
            "ok": True,
            "action": "stop",
            "id": "stop",
            "message": "no session was running; the device is stopped",
        }
        assert moved == {"ok": True, "action": "head", "id": "head", "message": "head upper"}
        head_seq = wire.frames[wire.index("in", SetHead)][1]
        stop_in = wire.index("in", Stop)
        head_ack = next(
            i
            for i, (direction, seq, m) in enumerate(wire.frames)
            if direction == "out" and isinstance(m, mbin.Ack) and seq == head_seq
        )
        assert stop_in < head_ack, wire.frames
        state = serve.firmware_state
        assert (state.motor, state.intensity, state.heat, state.head) == (False, 0, 0, "upper")
        await asyncio.sleep(0.3)
        assert len(serve.answers("stop")) == len(serve.answers("head")) == 1


async def test_a_cancel_during_shutdown_is_kept_and_the_device_still_ends_safe(
    broker: Broker, tmp_path: Path
) -> None:
    write_routine(tmp_path / "routines", "remote-test", step_s=30)
    catalog = slow_catalog(tmp_path, routines=tmp_path / "routines")
    device = "sim://slow-cushion?link=virtual&faults=ack_delay_s=0.5"
    async with serving(broker, device, catalog=catalog) as serve:
        await serve.send({"action": "start", "routine": "remote-test", "id": "start"})
        assert (await serve.answer("start"))["ok"]
        await serve.watcher.wait_for(f"{BASE}/state", lambda p: json.loads(p)["motor"])
        wire = WireLog(serve)
        serve.stop.set()
        async with asyncio.timeout(10):  # shutting down: the session's stop is on the wire, its ack held back
            await wire.received(Stop)
        assert serve.service.session is not None
        serve.run.cancel()
        await asyncio.wait({serve.run}, timeout=15)
        assert serve.run.cancelled()  # the cancel that came during the shutdown is not lost
        state = serve.firmware_state
        assert (state.motor, state.intensity, state.heat) == (False, 0, 0)
        assert serve.service.session is None


CRASHING_ROUTINE = """\
id: crash-test
title: Crash test
summary: Two heads on the pulse gun; fitting the second one fails.
areas: [upper-back]
tools: [electric-massager]
steps:
  - title: Ball
    duration: 60
    device: {head: ball, intensity: 2}
  - title: Fork
    duration: 60
    device: {head: fork, intensity: 2}
"""


async def test_a_crashed_session_is_logged_and_serve_goes_on_with_the_device_safe(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "routines"
    folder.mkdir()
    (folder / "crash-test.yaml").write_text(CRASHING_ROUTINE)
    catalog = Catalog(routine_dirs=[folder])

    def broken_person(head: str) -> None:  # a bug in the code that plays the person
        raise RuntimeError(f"cannot fit {head}")

    caplog.set_level(logging.ERROR, logger="massager_ctl.orchestrator.service")
    device = "sim://pulse-gun-p5?link=virtual"
    async with serving(broker, device, catalog=catalog, auto_confirm=True, fit_head=broken_person) as serve:
        await serve.send({"action": "start", "routine": "crash-test", "id": "start"})
        started = await serve.answer("start")
        assert started["ok"], started
        await serve.watcher.wait_for(f"{BASE}/state", lambda p: json.loads(p)["motor"])
        await serve.send({"action": "skip", "id": "skip"})  # on to the fork: the head change crashes
        assert (await serve.answer("skip"))["ok"]

        finished = json.loads(
            await serve.watcher.wait_for(
                f"{BASE}/events", lambda p: json.loads(p)["type"] == "session_finished"
            )
        )
        assert finished["status"] == "failed"
        assert "RuntimeError('cannot fit fork')" in finished["reason"]
        session = await serve.watcher.wait_for(
            f"{BASE}/session", lambda p: json.loads(p)["status"] == "failed"
        )
        assert json.loads(session)["routine"] == "crash-test"
        await serve.watcher.wait_for(
            f"{BASE}/state", lambda p: json.loads(p)["connected"] and not json.loads(p)["motor"]
        )
        state = serve.firmware_state
        assert (state.motor, state.intensity) == (False, 0)

        crashes = [r for r in caplog.records if r.getMessage().endswith("crashed")]
        assert len(crashes) == 1
        assert crashes[0].exc_info is not None
        assert isinstance(crashes[0].exc_info[1], RuntimeError)

        # serve goes on: the next command is carried out.
        await serve.send({"action": "select", "routine": "crash-test", "id": "after"})
        assert await serve.answer("after") == {
            "ok": True,
            "action": "select",
            "id": "after",
            "message": "selected crash-test",
        }
        assert not serve.service.session


def alias_bomb(levels: int = 6) -> str:
    """A routine file of under 400 bytes whose aliases expand to 8**levels areas (a YAML alias bomb)."""
    lines = ["id: bomb", "title: Bomb", "summary: x", "a0: &a0 [" + ", ".join(['"upper-back"'] * 8) + "]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 8) + "]" for i in range(1, levels)]
    lines += [f"areas: *a{levels - 1}", "steps: []"]
    return "\n".join(lines) + "\n"


async def test_routine_paths_are_refused_at_once_unread_and_a_stop_is_answered_meanwhile(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_routine(tmp_path / "routines", "remote-test", step_s=30)
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    catalog = Catalog(routine_dirs=[tmp_path / "routines"])
    loaded: list[Path] = []
    load_file = catalog_module.load_file

    def spy(model: Any, path: Path) -> Any:
        loaded.append(Path(path))
        return load_file(model, path)

    monkeypatch.setattr(catalog_module, "load_file", spy)
    async with serving(broker, "sim://shiatsu-cushion-s3?link=virtual", catalog=catalog) as serve:
        await serve.send({"action": "start", "routine": "remote-test", "id": "start"})
        assert (await serve.answer("start"))["ok"]
        await serve.watcher.wait_for(f"{BASE}/state", lambda p: json.loads(p)["motor"])

        # select is taken mid-session: a path there must not stall the session's loop.
        await serve.send({"action": "select", "routine": str(bomb), "id": "bomb"})
        await serve.send({"action": "stop", "id": "stop"})
        refused = await serve.answer("bomb")
        stopped = await serve.answer("stop")
        # at once because unread: parsing the bomb alone would take seconds
        assert bomb not in loaded, loaded
        assert refused["ok"] is False
        assert "must be a library routine id" in refused["error"], refused
        assert stopped == {
            "ok": True,
            "action": "stop",
            "id": "stop",
            "message": "stopping; the device is being made safe",
        }

        # Whether a file exists, and what it holds, never shows in the answer.
        answers = []
        for n, ref in enumerate(["/etc/passwd", str(tmp_path / "missing.yaml"), str(bomb), "../routines"]):
            await serve.send({"action": "start", "routine": ref, "id": f"path{n}"})
            answers.append(await serve.answer(f"path{n}"))
        assert all(a["ok"] is False for a in answers), answers
        assert len({a["error"] for a in answers}) == 1, answers
        assert "passwd" not in answers[0]["error"]
        assert "root" not in answers[0]["error"]

        # An id that is not in the library is named as such, with the ids that are.
        await serve.send({"action": "start", "routine": "no-such-routine", "id": "unknown"})
        unknown = await serve.answer("unknown")
        assert unknown["error"].startswith("unknown routine 'no-such-routine'; library routines: ")
        assert "remote-test" in unknown["error"]

        await serve.watcher.wait_for(
            f"{BASE}/session", lambda p: json.loads(p)["status"] == "stopped", within_s=10
        )
        await serve.watcher.wait_for(
            f"{BASE}/state", lambda p: json.loads(p)["connected"] and not json.loads(p)["motor"]
        )
        state = serve.firmware_state
        assert (state.motor, state.intensity, state.heat) == (False, 0, 0)


async def test_the_library_is_read_off_the_event_loop(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_routine(tmp_path / "routines", "remote-test", step_s=30)
    catalog = Catalog(routine_dirs=[tmp_path / "routines"])
    loop_thread = threading.get_ident()
    parsed_in: list[int] = []
    load_file = catalog_module.load_file

    def spy(model: Any, path: Path) -> Any:
        parsed_in.append(threading.get_ident())
        return load_file(model, path)

    catalog.devices()  # the device profiles are read before serve starts
    monkeypatch.setattr(catalog_module, "load_file", spy)
    async with serving(broker, "sim://shiatsu-cushion-s3?link=virtual", catalog=catalog) as serve:
        await serve.send({"action": "select", "routine": "remote-test", "id": "select"})
        assert (await serve.answer("select"))["message"] == "selected remote-test"
        await serve.send({"action": "start", "id": "start"})
        assert (await serve.answer("start"))["ok"]
    assert parsed_in, "the library was never read"
    assert loop_thread not in parsed_in
