"""The simulator's own codecs against the shared golden vectors in docs/vectors/, both directions."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from firmware_sim import SimulatedDevice, mascii, mbin
from firmware_sim.messages import (
    Command,
    FrameError,
    GetStatus,
    Hello,
    Ping,
    SetDirection,
    SetHead,
    SetHeat,
    SetIntensity,
    SetMode,
    Stop,
)
from massager_ctl.catalog import Catalog

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"
MBIN = json.loads((VECTORS / "mbin.json").read_text())
MASCII = json.loads((VECTORS / "mascii.json").read_text())
COMMANDS: dict[str, type[Command]] = {
    cls.TYPE: cls
    for cls in (Hello, Ping, SetIntensity, SetHead, SetHeat, SetMode, SetDirection, Stop, GetStatus)
}
MBIN_REPLIES: dict[str, Any] = {cls.TYPE: cls for cls in (mbin.Ack, mbin.Identity, mbin.Status, mbin.Nak)}
MASCII_REPLIES: dict[str, Any] = {
    cls.TYPE: cls for cls in (mascii.Ack, mascii.Identity, mascii.Status, mascii.Nak)
}


def _meaning(message: Any, **extra: Any) -> dict[str, Any]:
    return {"type": message.TYPE, **extra, **dataclasses.asdict(message)}


def _args(meaning: dict[str, Any], *drop: str) -> dict[str, Any]:
    return {k: v for k, v in meaning.items() if k not in ("type", *drop)}


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["name"] for v in vectors]


@pytest.mark.parametrize("vector", MBIN["valid"], ids=_ids(MBIN["valid"]))
def test_mbin_valid_vector_both_directions(vector: dict[str, Any]) -> None:
    wire = bytes.fromhex(vector["hex"])
    meaning = vector["meaning"]
    if vector["direction"] == "to_device":
        command = COMMANDS[meaning["type"]](**_args(meaning, "seq"))
        assert mbin.encode_command(meaning["seq"], command) == wire
        seq, decoded = mbin.decode_command(wire)
        assert _meaning(decoded, seq=seq) == meaning
    else:
        reply = MBIN_REPLIES[meaning["type"]](**_args(meaning))
        assert mbin.encode_reply(reply) == wire
        assert _meaning(mbin.decode_reply(wire)) == meaning


@pytest.mark.parametrize("vector", MASCII["valid"], ids=_ids(MASCII["valid"]))
def test_mascii_valid_vector_both_directions(vector: dict[str, Any]) -> None:
    wire = vector["line"].encode()
    meaning = vector["meaning"]
    if vector["direction"] == "to_device":
        command = COMMANDS[meaning["type"]](**_args(meaning))
        assert mascii.encode_command(command) == wire
        assert _meaning(mascii.decode_command(wire)) == meaning
    else:
        reply = MASCII_REPLIES[meaning["type"]](**_args(meaning))
        assert mascii.encode_reply(reply) == wire
        assert _meaning(mascii.decode_reply(wire)) == meaning


@pytest.mark.parametrize("vector", MBIN["invalid"], ids=_ids(MBIN["invalid"]))
def test_mbin_invalid_vector_is_rejected(vector: dict[str, Any]) -> None:
    wire = bytes.fromhex(vector["hex"])
    decode = mbin.decode_reply if vector["device_reply_hex"] is None else mbin.decode_command
    with pytest.raises(FrameError) as caught:
        decode(wire)
    assert caught.value.kind == vector["error"]


@pytest.mark.parametrize("model", ["pulse-gun-p5", "shiatsu-cushion-s3"])
@pytest.mark.parametrize(
    "vector", [v for v in MBIN["invalid"] if v["device_reply_hex"]], ids=lambda v: str(v["name"])
)
async def test_mbin_invalid_vector_gets_documented_reply(model: str, vector: dict[str, Any]) -> None:
    async with SimulatedDevice(Catalog().device(model)) as device:
        link = device.virtual_link()
        before = device.firmware.state
        await link.send(bytes.fromhex(vector["hex"]))
        assert link.recv_nowait() == bytes.fromhex(vector["device_reply_hex"])
        assert link.recv_nowait() is None
        assert dataclasses.replace(device.firmware.state, t=0) == dataclasses.replace(before, t=0)


@pytest.mark.parametrize("vector", MASCII["invalid"], ids=_ids(MASCII["invalid"]))
def test_mascii_invalid_vector_is_rejected_by_the_codec(vector: dict[str, Any]) -> None:
    wire = vector["line"].encode()
    if vector["error"] == "out_of_range":
        # the range is the model's, so the line is well formed and the firmware refuses it
        assert mascii.decode_command(wire) == SetIntensity(11)
        return
    with pytest.raises(FrameError) as caught:
        mascii.decode_command(wire)
    assert caught.value.kind == vector["error"]


@pytest.mark.parametrize("vector", MASCII["invalid"], ids=_ids(MASCII["invalid"]))
async def test_mascii_invalid_vector_gets_documented_reply(vector: dict[str, Any]) -> None:
    async with SimulatedDevice(Catalog().device("serial-cushion-z3")) as device:
        link = device.virtual_link()
        before = device.firmware.state
        await link.send(vector["line"].encode())
        assert link.recv_nowait() == vector["device_reply"].encode()
        assert link.recv_nowait() is None
        assert dataclasses.replace(device.firmware.state, t=0) == dataclasses.replace(before, t=0)


def test_mascii_assembler_cuts_a_stream_at_any_boundary() -> None:
    stream = b"$ID*0D\r\n$INT,7*48\n" + b"$" + b"A" * 80 + b"*00\r\n$STOP*18\r\n"
    for cut in range(len(stream) + 1):
        assembler = mascii.LineAssembler()
        lines = assembler.feed(stream[:cut]) + assembler.feed(stream[cut:])
        assert lines == [b"$ID*0D\r\n", b"$INT,7*48\n", None, b"$STOP*18\r\n"]
