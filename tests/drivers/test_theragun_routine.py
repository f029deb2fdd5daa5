"""A massage-gun routine runs whole on each Theragun simulator, its intensities sent as that model's RPMs.

In virtual time (looptime) over the Bumble radio, with a wire log: the session completes with the gun
stopped as the simulator reports it; every speed frame carries the RPM the routine's intensity
fractions map to on the model (checked against frames built here from the public rule
``AA CK 01 03 RH RL 03``, ``CK = sum of bytes 2..end``, and the published examples); every frame of
the log decodes under the Theragun codec with a good checksum; the last speed sent is the stop.
The gun routines that need a head the Theragun does not ship (the fork) are refused by ``routines
check`` with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.opener import ServedProduct
from massager_ctl.catalog import Catalog
from massager_ctl.cli.devices_live import try_url
from massager_ctl.config import Caps
from massager_ctl.events import EventBus
from massager_ctl.models import DeviceProfile
from massager_ctl.orchestrator import Session, preflight
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.person import AutoPerson
from massager_ctl.protocol import theragun
from massager_ctl.transports.wirelog import LoggedSource, WireLog
from tests.foundation.cli_support import isolate
from tests.foundation.test_real_catalog import run_cli
from tests.orchestrator.orch_support import CATALOG

ROUTINE = "lower-back-massage-gun"
MODELS = ["theragun-pro-4", "theragun-elite-4", "theragun-prime-4"]
STOP = bytes.fromhex("aa070103000003")  # the published stop frame
STATUS = bytes.fromhex("aa101000")
PUBLISHED = {1750: bytes.fromhex("aae3010306d603"), 2400: bytes.fromhex("aa700103096003")}


def speed_frame(rpm: int) -> bytes:
    """The set-speed frame for ``rpm``, built from the public rule (not by either codec)."""
    body = bytes([0x01, 0x03, rpm >> 8, rpm & 0xFF, 0x03])
    return bytes([0xAA, sum(body) & 0xFF]) + body


def rule_ok(frame: bytes, sync: int) -> bool:
    return len(frame) >= 4 and frame[0] == sync and frame[1] == sum(frame[2:]) & 0xFF


def target_levels(profile: DeviceProfile) -> set[int]:
    """The levels the routine's intensity fractions map to on ``profile`` (0 left out)."""
    steps = CATALOG.routine(ROUTINE).plan()
    fractions = {s.device.intensity for s in steps if s.device and s.device.intensity is not None}
    assert all(isinstance(f, float) for f in fractions)  # portable: fractions, never raw levels
    return {profile.intensity.level_for(f) for f in fractions} - {0}


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_theragun_log(lines: list[dict[str, Any]]) -> list[bytes]:
    """Every frame line well formed and valid under the Theragun rule and codec; returns the sent frames."""
    assert lines[0]["event"] == "open"
    assert lines[-1]["event"] == "closed"
    assert [line["t"] for line in lines] == sorted(line["t"] for line in lines)
    sent = [bytes.fromhex(line["hex"]) for line in lines if line.get("dir") == "tx"]
    received = [bytes.fromhex(line["hex"]) for line in lines if line.get("dir") == "rx"]
    assert sent
    assert received
    for frame in sent:
        assert rule_ok(frame, 0xAA), frame.hex()
        theragun.decode_command(frame)  # raises on anything outside the protocol
    for frame in received:
        assert rule_ok(frame, 0xBB), frame.hex()
        assert isinstance(theragun.decode_reply(frame), theragun.TheragunStatus)
    return sent


@pytest.mark.looptime
@pytest.mark.parametrize("model", MODELS)
async def test_a_gun_routine_runs_whole_on_the_theragun_sending_its_rpms(model: str, tmp_path: Path) -> None:
    profile = CATALOG.device(model)
    levels = target_levels(profile)
    plan = preflight(CATALOG.routine(ROUTINE), profile, Caps())
    assert not plan.problems
    url = f"sim://{model}"
    path = tmp_path / "wire.jsonl"
    async with WireLog(path) as log, DeviceConnector(url, catalog=CATALOG, wire_log=log) as connector:
        source = connector.source
        assert isinstance(source, LoggedSource)
        assert isinstance(source.source, ServedProduct)
        firmware = source.source.firmware
        rpms_run: list[int] = []
        firmware.subscribe(lambda state: rpms_run.append(state.rpm))
        session = Session(
            plan, connect=connector.connect, device_url=url, bus=EventBus(), person=AutoPerson()
        )
        result = await session.run()
        assert result.status == "completed", result.reason
        assert result.device_safe
        assert firmware.state.rpm == 0
        assert not firmware.state.running
        received = list(firmware.received)
    table = profile.intensity.percussions_per_min
    wanted = {table[level - 1] for level in levels}
    assert levels == {2, 3}  # 0.4 and 0.6 of five speeds
    # each target RPM ran on the gun, and nothing faster than the fastest target was ever sent
    assert wanted <= set(rpms_run)
    speeds = [f for f in received if f[2:4] == b"\x01\x03"]
    sent_rpms = {int.from_bytes(f[4:6], "big") for f in speeds}
    assert sent_rpms - {0} == {table[level - 1] for level in range(1, max(levels) + 1)}  # ramps pass level 1
    assert all(f == speed_frame(int.from_bytes(f[4:6], "big")) for f in speeds)
    assert PUBLISHED[1750] in speeds  # a ramp from rest starts at the lowest speed
    # the log holds exactly the frames the gun received, ending with the stop and the request confirming it
    sent = check_theragun_log(read_log(path))
    assert sent == received
    assert speeds[-1] == STOP
    assert sent[-2:] == [STOP, STATUS]


@pytest.mark.looptime
@pytest.mark.parametrize("model", MODELS)
async def test_devices_try_on_the_theragun_ends_stopped_with_a_valid_wire_log(
    model: str, tmp_path: Path
) -> None:
    path = tmp_path / "wire.jsonl"
    lines: list[str] = []
    async with WireLog(path) as log:
        state = await try_url(f"sim://{model}", Catalog(), dwell_s=1.0, echo=lines.append, wire_log=log)
    assert state.safe
    assert lines[-1].startswith("stopped (confirmed): motor off, intensity 0")
    sent = check_theragun_log(read_log(path))
    assert PUBLISHED[1750] in sent
    assert sent[-2:] == [STOP, STATUS]


@pytest.mark.parametrize(
    ("routine", "model", "reasons"),
    [
        ("upper-back-massage-gun", "theragun-pro-4", ["the routine needs a 'fork' head"]),
        (
            "upper-back-massage-gun",
            "theragun-prime-4",
            ["the routine needs a 'fork' head", "the routine needs a 'wedge' head"],
        ),
        ("full-session-30-gun", "theragun-elite-4", ["the routine needs a 'fork' head"]),
    ],
)
def test_gun_routines_needing_a_fork_are_refused_on_the_theragun_with_the_reason(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    routine: str,
    model: str,
    reasons: list[str],
) -> None:
    isolate(monkeypatch, tmp_path)
    code, out, err = run_cli(capsys, "routines", "check", routine, "--model", model)
    assert code != 0
    said = out + err
    assert f"{routine} cannot run on {model}" in said
    for reason in reasons:
        assert reason in said
    assert "dampener (flat), standard-ball (ball), thumb (thumb), cone (bullet)" in said


@pytest.mark.parametrize("model", MODELS)
def test_the_lower_back_gun_routine_passes_check_on_the_theragun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], model: str
) -> None:
    isolate(monkeypatch, tmp_path)
    code, _, err = run_cli(capsys, "routines", "check", ROUTINE, "--model", model)
    assert code == 0, err


def test_run_with_a_wire_log_on_the_theragun_exits_0_and_logs_only_theragun_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(monkeypatch, tmp_path)
    path = tmp_path / "wire.jsonl"
    code, out, err = run_cli(
        capsys,
        "run",
        ROUTINE,
        "--device",
        "sim://theragun-pro-4",
        "--speed",
        "600",
        "--yes",
        "--wire-log",
        str(path),
    )
    assert code == 0, err
    assert "session completed: the routine ran to its end" in out + err
    sent = check_theragun_log(read_log(path))
    assert speed_frame(1900) in sent  # 0.4 of five speeds on the PRO
    assert sent[-2:] == [STOP, STATUS]
