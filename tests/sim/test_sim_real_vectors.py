"""The real-product simulators' own codecs against the shared golden vectors in docs/vectors/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.families import keeson_wire, reverie_wire, richmat_wire, rongtai_wire, theragun_wire
from firmware_sim.messages import FrameError

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"
FAMILIES = ("keeson", "reverie", "theragun", "rongtai", "richmat")
DATA = {f: json.loads((VECTORS / f"{f}.json").read_text(encoding="utf-8")) for f in FAMILIES}


def _fields(meaning: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meaning.items() if k != "type"}


def _command(family: str, meaning: dict[str, Any]) -> object:
    """What the simulator should make of a to-device vector, in its own types."""
    fields = _fields(meaning)
    match family:
        case "keeson":
            return keeson_wire.Press(fields["keys"])
        case "reverie":
            return reverie_wire.Order(meaning["type"], next(iter(fields.values()), 0))
        case "theragun":
            kinds: dict[str, object] = {
                "status_request": theragun_wire.StatusQuery(),
                "version_request": theragun_wire.VersionQuery(),
            }
            return kinds.get(meaning["type"]) or theragun_wire.Speed(fields["rpm"])
        case "rongtai":
            return rongtai_wire.Key(fields["key"], fields["ctrl"])
        case _:
            return richmat_wire.Button(fields["command"])


def _reply(family: str, meaning: dict[str, Any]) -> bytes:
    """The simulator's own encoding of a from-device vector's meaning."""
    fields = _fields(meaning)
    match family:
        case "keeson":
            fields.pop("checksum_ok")
            fields["motion"] = 0x0F if fields["motion"] is None else fields["motion"]
            fields["led_on"] = bool(fields["led_on"])
            return keeson_wire.encode_status(keeson_wire.StatusFrame(**fields))
        case "reverie":
            return reverie_wire.encode_report(reverie_wire.Report(**fields))
        case "theragun":
            if meaning["type"] == "version":
                return theragun_wire.encode_version()
            return theragun_wire.encode_status(theragun_wire.GunStatus(**fields))
        case _:
            return rongtai_wire.encode_status(rongtai_wire.BoardStatus(**fields))


DECODERS = {
    "keeson": keeson_wire.decode_command,
    "reverie": reverie_wire.decode_command,
    "theragun": theragun_wire.decode_command,
    "rongtai": rongtai_wire.decode_command,
    "richmat": richmat_wire.decode_command,
}
COMMANDS = [(f, v) for f in FAMILIES for v in DATA[f]["valid"] if v["direction"] == "to_device"]
REPLIES = [(f, v) for f in FAMILIES for v in DATA[f]["valid"] if v["direction"] == "from_device"]
BAD_COMMANDS = [(f, v) for f in FAMILIES for v in DATA[f]["invalid"] if v["direction"] == "to_device"]


def _id(case: tuple[str, dict[str, Any]]) -> str:
    return f"{case[0]}: {case[1]['name']}"


@pytest.mark.parametrize("case", COMMANDS, ids=_id)
def test_simulator_reads_every_command_vector(case: tuple[str, dict[str, Any]]) -> None:
    family, vector = case
    assert DECODERS[family](bytes.fromhex(vector["hex"])) == _command(family, vector["meaning"])


@pytest.mark.parametrize("case", REPLIES, ids=_id)
def test_simulator_writes_every_reply_vector(case: tuple[str, dict[str, Any]]) -> None:
    family, vector = case
    wire = bytes.fromhex(vector["hex"])
    encoded = _reply(family, vector["meaning"])
    if vector["meaning"].get("checksum_ok", True):
        assert encoded == wire
    else:
        # a frame the base garbled: the same data, a checksum byte that is not the right one
        assert encoded[:-1] == wire[:-1]
        assert encoded[-1] != wire[-1]


@pytest.mark.parametrize("case", BAD_COMMANDS, ids=_id)
def test_simulator_rejects_every_invalid_command_vector(case: tuple[str, dict[str, Any]]) -> None:
    family, vector = case
    with pytest.raises(FrameError) as caught:
        DECODERS[family](bytes.fromhex(vector["hex"]))
    assert caught.value.kind == vector["error"]


def test_keeson_simulator_can_garble_checksums_like_a_real_base() -> None:
    status = keeson_wire.StatusFrame(
        head_massage=3, foot_massage=3, remaining_cs=179975, timer_min=30, motion=0
    )
    good = keeson_wire.encode_status(status)
    assert good.hex(" ") == DATA["keeson"]["valid"][8]["hex"]
    bad = keeson_wire.encode_status(status, corrupt="bad")
    assert bad[:-1] == good[:-1]
    assert bad[-1] != good[-1]
    moved = keeson_wire.encode_status(keeson_wire.StatusFrame(head_massage=2), corrupt="stale", previous=good)
    assert moved[-1] == good[-1]


def test_richmat_simulator_encodes_what_it_decodes() -> None:
    for vector in DATA["richmat"]["valid"]:
        wire = bytes.fromhex(vector["hex"])
        assert richmat_wire.encode_command(richmat_wire.decode_command(wire)) == wire


def test_chair_deframer_cuts_key_frames_at_any_boundary() -> None:
    frames = [bytes.fromhex(v["hex"]) for v in DATA["rongtai"]["valid"] if v["direction"] == "to_device"]
    stream = b"\x01" + b"".join(frames) + b"\x02"
    for cut in range(len(stream) + 1):
        deframer = rongtai_wire.Deframer()
        assert deframer.feed(stream[:cut]) + deframer.feed(stream[cut:]) == frames
