"""``--wire-log FILE``: every frame on the wire as a JSON line, checked against the firmware's own record."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.firmware import Firmware
from firmware_sim.opener import ServedSim
from massager_ctl.catalog import Catalog
from massager_ctl.cli.devices_live import try_url
from massager_ctl.errors import ConfigError, ProtocolError
from massager_ctl.orchestrator import Session, SessionResult
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.protocol import Command, Report, SetHeat, Stop, mascii, mbin
from massager_ctl.protocol.messages import Message
from massager_ctl.transports.wirelog import REPEAT_EVERY_S, LoggedSource, WireLog, WireLogTransport
from tests.drivers.driver_support import Scripted
from tests.foundation.cli_support import in_process, isolate
from tests.mqtt.mqtt_support import Broker, cli_env, free_port, watch
from tests.orchestrator.orch_support import make_plan


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def frames(lines: list[dict[str, Any]], direction: str) -> list[bytes]:
    return [bytes.fromhex(line["hex"]) for line in lines if line.get("dir") == direction]


def decoder(family: str) -> Any:
    return mascii.decode if family == "mascii" else mbin.decode


def check_log(lines: list[dict[str, Any]], family: str) -> tuple[list[Message], list[Message]]:
    """Every line well formed, ``t`` monotonic, every frame valid in the model's protocol."""
    decode = decoder(family)
    times = [line["t"] for line in lines]
    assert times == sorted(times)
    for line in lines:
        if "dir" in line:
            assert set(line) == {"t", "dir", "hex"}
            assert line["dir"] in ("tx", "rx")
            assert line["hex"] == line["hex"].lower()
            assert " " not in line["hex"]
        else:
            assert line["event"] in ("open", "closed")
    sent = [decode(f) for f in frames(lines, "tx")]
    received = [decode(f) for f in frames(lines, "rx")]
    assert sent
    assert all(isinstance(m, Command) for m in sent)
    assert received
    assert all(isinstance(m, Report) for m in received)
    return sent, received


class FirmwareRecord:
    """The firmware's own record of the frames it received and sent (its ``on_frame`` hook)."""

    def __init__(self, firmware: Firmware) -> None:
        self.frames: dict[str, list[bytes]] = {"in": [], "out": []}
        firmware.on_frame(lambda direction, frame: self.frames[direction].append(frame))


def served(connector: DeviceConnector) -> ServedSim:
    source = connector.source
    assert isinstance(source, LoggedSource)
    assert isinstance(source.source, ServedSim)
    return source.source


STEPS = [
    {"title": "Gentle", "duration": 3, "device": {"intensity": 2}},
    {"title": "Firmer", "duration": 3, "device": {"intensity": 4}},
]


async def run_with_log(
    url: str, model: str, path: Path, catalog: Catalog
) -> tuple[SessionResult, FirmwareRecord]:
    plan = make_plan(STEPS, model)
    async with WireLog(path) as log, DeviceConnector(url, catalog=catalog, wire_log=log) as connector:
        record = FirmwareRecord(served(connector).simulator.firmware)
        session = Session(plan, connect=connector.connect, device_url=url, speed=connector.speed)
        result = await session.run()
    return result, record


@pytest.mark.parametrize(
    ("model", "link"),
    [("serial-cushion-z3", "pty"), pytest.param("pulse-gun-p5", "ble", marks=pytest.mark.looptime)],
    ids=["pty", "ble"],
)
async def test_a_routine_logs_every_frame_valid_and_every_command_the_firmware_got(
    model: str, link: str, tmp_path: Path, catalog: Catalog
) -> None:
    path = tmp_path / "wire.jsonl"
    result, record = await run_with_log(f"sim://{model}?link={link}&speed=10", model, path, catalog)
    assert result.device_safe

    lines = read_log(path)
    family = catalog.device(model).protocol.family
    sent, received = check_log(lines, family)
    # the controller's frames are never thinned: the log holds exactly what the firmware received

    def normal(frame: bytes) -> bytes:
        return frame.rstrip(b"\r\n") if family == "mascii" else frame

    assert [normal(f) for f in frames(lines, "tx")] == [normal(f) for f in record.frames["in"]]
    # what the device sent arrived in order (a report after the link closed may be missing)
    assert [normal(f) for f in frames(lines, "rx")] == [normal(f) for f in record.frames["out"]][
        : len(received)
    ]
    assert isinstance(sent[-1], Stop)
    assert lines[0]["event"] == "open"
    assert lines[-1]["event"] == "closed"


@pytest.mark.looptime
async def test_one_log_spans_reconnects_with_each_link_marked(tmp_path: Path, catalog: Catalog) -> None:
    path = tmp_path / "wire.jsonl"
    url = "sim://pulse-gun-p5?link=virtual"
    async with WireLog(path) as log, DeviceConnector(url, catalog=catalog, wire_log=log) as connector:
        first = await connector.connect()
        await first.close()
        second = await connector.connect()
        await second.set_intensity(2)
        await second.close()
    lines = read_log(path)
    check_log(lines, "mbin")
    marks = [(line["link"], line["event"]) for line in lines if "event" in line]
    assert marks == [(1, "open"), (1, "closed"), (2, "open"), (2, "closed")]
    assert lines[0]["t"] == 0.0


@pytest.mark.looptime
async def test_devices_try_writes_its_frames_and_ends_with_the_stop(tmp_path: Path, catalog: Catalog) -> None:
    # the in-memory link in virtual time; test_devices_try_process_writes_a_valid_wire_log runs it on a pty
    path = tmp_path / "wire.jsonl"
    async with WireLog(path) as log:
        state = await try_url(
            "sim://serial-cushion-z3?link=virtual", catalog, dwell_s=0.0, echo=lambda _: None, wire_log=log
        )
    assert state.safe
    sent, _ = check_log(read_log(path), "mascii")
    assert isinstance(sent[-1], Stop)


async def test_unchanged_status_frames_are_thinned_and_sent_frames_never(tmp_path: Path) -> None:
    now = [0.0]
    status = bytes.fromhex("f0030000000000f1")
    other = bytes.fromhex("f0040000000000f1")
    path = tmp_path / "wire.jsonl"
    async with WireLog(path, clock=lambda: now[0]) as log:
        link = WireLogTransport(Scripted([status] * 40 + [other], message_oriented=True), log)
        await link.open()
        for _ in range(30):  # 3 s of a status stream every 0.1 s
            await link.recv()
            now[0] += 0.1
        await link.send(b"\x01")
        await link.send(b"\x01")
        for _ in range(11):  # a status right after a send is written, even if unchanged
            await link.recv()
            now[0] += 0.1
        await link.close()
    lines = [line for line in read_log(path) if "dir" in line]
    assert [(line["dir"], line["hex"]) for line in lines] == [
        ("rx", status.hex()),
        ("rx", status.hex()),
        ("rx", status.hex()),
        ("tx", "01"),
        ("tx", "01"),
        ("rx", status.hex()),
        ("rx", other.hex()),
    ]
    rx_times = [line["t"] for line in lines[:3]]
    assert all(b - a >= REPEAT_EVERY_S for a, b in itertools.pairwise(rx_times))


async def test_a_stream_link_is_logged_frame_by_frame(tmp_path: Path) -> None:
    chunks = [b"ST 1 0 0", b" 0 0\nOK INT\nST", b" 2 0 0 0 0\n"]
    path = tmp_path / "wire.jsonl"
    async with WireLog(path, clock=lambda: 0.0) as log:
        link = WireLogTransport(Scripted(chunks, message_oriented=False), log, framer=mascii.LineSplitter())
        await link.open()
        got = [await link.recv() for _ in chunks]
    assert got == chunks  # the driver still gets the bytes as they came
    assert frames(read_log(path), "rx") == [b"ST 1 0 0 0 0\n", b"OK INT\n", b"ST 2 0 0 0 0\n"]


async def test_a_cancelled_close_still_leaves_every_line_written(tmp_path: Path) -> None:
    path = tmp_path / "wire.jsonl"
    log = WireLog(path, clock=lambda: 0.0)
    log.link_opened("scripted")
    for i in range(20_000):
        log.frame("tx", i.to_bytes(4, "big"))
    closing = asyncio.create_task(log.aclose())
    await asyncio.sleep(0)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    await log.aclose()  # idempotent: waits for the writer the cancelled close left running
    assert len(frames(read_log(path), "tx")) == 20_000


def test_an_unwritable_wire_log_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--wire-log .*: cannot write there"):
        WireLog(tmp_path / "no-such-dir" / "wire.jsonl")


@pytest.mark.slow
def test_devices_try_process_writes_a_valid_wire_log(tmp_path: Path) -> None:
    path = tmp_path / "wire.jsonl"
    env = {**os.environ, "MASSAGER_CONFIG": "/nonexistent/config.toml", "XDG_CONFIG_HOME": "/nonexistent"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "massager_ctl",
            "devices",
            "try",
            "sim://serial-cushion-z3",
            "--dwell",
            "0",
            "--wire-log",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    sent, _ = check_log(read_log(path), "mascii")
    assert isinstance(sent[-1], Stop)


def test_check_log_rejects_a_frame_outside_the_protocol() -> None:
    # the checks above can fail: a damaged frame in a log is caught
    lines = [{"t": 0.0, "dir": "tx", "hex": b"XX 1\n".hex()}]
    with pytest.raises(ProtocolError):
        check_log(lines, "mascii")


@pytest.mark.usefixtures("cli_in_virtual_time")
def test_run_with_a_wire_log_ends_it_with_the_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(monkeypatch, tmp_path)
    routine = tmp_path / "short.yaml"
    routine.write_text(
        "id: short\ntitle: Short\nsummary: s\nareas: [back]\ntools: [electric-massager]\nsteps:\n"
        "  - {title: Warm, duration: 20, device: {head: lower, intensity: 3, heat: low}}\n"
        "  - {title: Rest, duration: 10, device: {intensity: 0, heat: 'off'}}\n"
    )
    path = tmp_path / "wire.jsonl"
    device = "sim://serial-cushion-z3?link=virtual"  # in memory, in virtual time
    result = in_process(capsys)(
        "run", str(routine), "--device", device, "--speed", "20", "--yes", "--wire-log", str(path)
    )
    assert result.code == 0, result.err
    sent, _ = check_log(read_log(path), "mascii")
    assert isinstance(sent[-1], Stop)
    assert any(isinstance(m, SetHeat) and m.level == 1 for m in sent)


@pytest.mark.slow
async def test_serve_keeps_one_wire_log_across_a_reconnect(tmp_path: Path) -> None:
    broker = Broker(dir=tmp_path / "broker", port=free_port())
    broker.dir.mkdir()
    broker.start()
    path = tmp_path / "wire.jsonl"
    device = "sim://shiatsu-cushion-s3?link=virtual&faults=drop_link_at=1.5,reconnect_after=0.5"
    state = "massager/cushion1/state"
    try:
        async with watch(broker, state) as watcher:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "massager_ctl", "serve", "--device", device, "--mqtt", broker.url,
                "--device-id", "cushion1", "--wire-log", str(path),
                env=cli_env(tmp_path), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            try:

                def reconnected(_: bytes) -> bool:
                    seen = [json.loads(p)["connected"] for p in watcher.on(state)]
                    return False in seen and seen[-1] is True

                await watcher.wait_for(state, reconnected, within_s=30)
                proc.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(proc.communicate(), 30)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        assert proc.returncode == 0, err.decode()
    finally:
        broker.stop()
    lines = read_log(path)
    sent, _ = check_log(lines, "mbin")
    assert [line["link"] for line in lines if line.get("event") == "open"][:2] == [1, 2]
    assert isinstance(sent[-1], Stop)
