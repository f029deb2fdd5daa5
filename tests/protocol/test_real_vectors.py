"""Golden vectors of the five real families (docs/vectors/<family>.json) on the controller's codecs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from massager_ctl.protocol import keeson, reverie, richmat, rongtai, theragun
from massager_ctl.protocol.messages import FrameError

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"
FAMILIES = ("keeson", "reverie", "theragun", "rongtai", "richmat")


def _load(family: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / f"{family}.json").read_text(encoding="utf-8"))
    return data


def _args(meaning: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meaning.items() if k != "type"}


_REVERIE: dict[str, Callable[..., reverie.ReverieCommand]] = {
    "head_massage": reverie.SetHeadMassage,
    "foot_massage": reverie.SetFootMassage,
    "wave": reverie.SetWave,
    "stop_massage": reverie.StopMassage,
    "head_position": reverie.SetHeadPosition,
    "foot_position": reverie.SetFootPosition,
    "stop": reverie.StopMotors,
    "flat": reverie.Flat,
    "zero_g": reverie.ZeroG,
}
_THERAGUN: dict[str, Callable[..., theragun.TheragunCommand]] = {
    "set_speed": theragun.SetSpeed,
    "status_request": theragun.RequestStatus,
    "version_request": theragun.RequestVersion,
}


class Codec:
    """One family's controller codec, seen through the vector file's vocabulary."""

    def __init__(
        self,
        encode: Callable[[Any], bytes],
        decode_command: Callable[[bytes], object],
        decode_reply: Callable[[bytes], object] | None,
        command: Callable[[dict[str, Any]], object],
        reply: Callable[[dict[str, Any]], object] | None,
    ) -> None:
        self.encode = encode
        self.decode_command = decode_command
        self.decode_reply = decode_reply
        self.command = command
        self.reply = reply


def _theragun_reply(meaning: dict[str, Any]) -> object:
    if meaning["type"] == "version":
        return theragun.TheragunVersion(bytes.fromhex(meaning["payload"]))
    return theragun.TheragunStatus(**_args(meaning))


CODECS: dict[str, Codec] = {
    "keeson": Codec(
        keeson.encode,
        keeson.decode_command,
        keeson.decode_status,
        lambda m: keeson.KeyPress(**_args(m)),
        lambda m: keeson.KeesonStatus(**_args(m)),
    ),
    "reverie": Codec(
        reverie.encode,
        reverie.decode_command,
        reverie.decode_status,
        lambda m: _REVERIE[m["type"]](**_args(m)),
        lambda m: reverie.ReverieStatus(**_args(m)),
    ),
    "theragun": Codec(
        theragun.encode,
        theragun.decode_command,
        theragun.decode_reply,
        lambda m: _THERAGUN[m["type"]](**_args(m)),
        _theragun_reply,
    ),
    "rongtai": Codec(
        rongtai.encode,
        rongtai.decode_command,
        rongtai.decode_status,
        lambda m: rongtai.KeyPress(**_args(m)),
        lambda m: rongtai.ChairStatus(**_args(m)),
    ),
    "richmat": Codec(
        richmat.encode, richmat.decode_command, None, lambda m: richmat.RichmatCommand(**_args(m)), None
    ),
}

VALID = [(f, v) for f in FAMILIES for v in _load(f)["valid"]]
INVALID = [(f, v) for f in FAMILIES for v in _load(f)["invalid"]]


def _id(case: tuple[str, dict[str, Any]]) -> str:
    return f"{case[0]}: {case[1]['name']}"


@pytest.mark.parametrize("case", VALID, ids=_id)
def test_valid_vector(case: tuple[str, dict[str, Any]]) -> None:
    family, vector = case
    codec = CODECS[family]
    wire = bytes.fromhex(vector["hex"])
    if vector["direction"] == "to_device":
        command = codec.command(vector["meaning"])
        assert codec.encode(command) == wire
        assert codec.decode_command(wire) == command
    else:
        assert codec.decode_reply is not None
        assert codec.reply is not None
        assert codec.decode_reply(wire) == codec.reply(vector["meaning"])


@pytest.mark.parametrize("case", INVALID, ids=_id)
def test_invalid_vector_raises_its_error(case: tuple[str, dict[str, Any]]) -> None:
    family, vector = case
    codec = CODECS[family]
    decode = codec.decode_command if vector["direction"] == "to_device" else codec.decode_reply
    assert decode is not None
    with pytest.raises(FrameError) as info:
        decode(bytes.fromhex(vector["hex"]))
    assert info.value.kind == vector["error"]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_vector_names_its_source(family: str) -> None:
    data = _load(family)
    assert data["family"] == family
    for vector in [*data["valid"], *data["invalid"]]:
        assert vector["source"].strip(), vector["name"]


def test_keeson_tally_counts_good_bad_and_stale_frames() -> None:
    vectors = {v["name"]: bytes.fromhex(v["hex"]) for v in _load("keeson")["valid"]}
    good = vectors["status ed: both zones level 3, ~1800 s left, 30-min timer"]
    changed = bytearray(good)
    changed[7] = 2  # new data, but the checksum byte of the previous frame: stale
    garbled = bytearray(good)
    garbled[-1] ^= 0x40
    tally = keeson.StatusTally()
    for frame in (good, bytes(changed), bytes(garbled), good):
        tally.add(frame, keeson.decode_status(frame))
    assert (tally.good, tally.stale, tally.bad) == (2, 1, 1)


def test_keeson_status_in_range_is_required_only_when_the_checksum_is_good() -> None:
    frame = bytearray(bytes.fromhex("ed fe 16 00 00 00 00 07 03 07 bf 02 00 00 03"))
    noisy = keeson.decode_status(bytes(frame) + b"\x00")
    assert not noisy.checksum_ok
    with pytest.raises(FrameError) as info:
        keeson.decode_status(bytes(frame) + bytes((keeson.checksum(bytes(frame)),)))
    assert info.value.kind == "out_of_range"


@pytest.mark.parametrize(
    ("encode", "message"),
    [
        (keeson.encode, keeson.KeyPress(1 << 32)),
        (reverie.encode, reverie.SetHeadMassage(11)),
        (reverie.encode, reverie.SetFootPosition(101)),
        (theragun.encode, theragun.SetSpeed(70000)),
        (rongtai.encode, rongtai.KeyPress(0x80)),
        (richmat.encode, richmat.RichmatCommand(0x01)),
    ],
)
def test_encoders_refuse_values_that_do_not_fit(encode: Callable[[Any], bytes], message: object) -> None:
    with pytest.raises(FrameError):
        encode(message)


def test_richmat_levels_map_to_their_commands() -> None:
    assert [richmat.RichmatCommand.head_level(n).command for n in range(4)] == [0x98, 0x99, 0x9A, 0x9B]
    assert [richmat.RichmatCommand.foot_level(n).command for n in range(4)] == [0x9C, 0x9D, 0x9E, 0x9F]
    with pytest.raises(FrameError):
        richmat.RichmatCommand.head_level(4)


def test_chair_splitter_cuts_frames_at_any_boundary() -> None:
    frames = [bytes.fromhex(v["hex"]) for v in _load("rongtai")["valid"] if v["direction"] == "from_device"]
    stream = b"\x00\x13" + frames[0] + b"\x7f" + frames[1]
    for cut in range(len(stream) + 1):
        splitter = rongtai.FrameSplitter()
        assert splitter.feed(stream[:cut]) + splitter.feed(stream[cut:]) == frames
