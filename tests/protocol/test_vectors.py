"""Golden vectors of docs/vectors/*.json on the controller's codecs, both directions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.drivers.families import limits_for
from massager_ctl.protocol import FrameError, Message, mascii, mbin
from massager_ctl.protocol import messages as m

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"

_CLASSES: dict[str, type[Any]] = {
    "hello": m.Hello,
    "ping": m.Ping,
    "set_intensity": m.SetIntensity,
    "set_head": m.SetHead,
    "set_heat": m.SetHeat,
    "set_mode": m.SetMode,
    "set_direction": m.SetDirection,
    "stop": m.Stop,
    "get_status": m.GetStatus,
    "ack": m.Ack,
    "nak": m.Nak,
    "identity": m.IdentityReport,
    "status": m.StatusReport,
}


def _load(family: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / f"{family}.json").read_text(encoding="utf-8"))
    return data


def message_from_meaning(meaning: dict[str, Any]) -> Message:
    """Build the expected message from a vector's ``meaning`` (the vector file's own field names)."""
    fields = dict(meaning)
    kind = fields.pop("type")
    if kind == "identity" and "fw_major" in fields:
        fields["firmware"] = f"{fields.pop('fw_major')}.{fields.pop('fw_minor')}"
    if kind == "status":
        fields["temperature_c"] = float(fields["temperature_c"])
    message: Message = _CLASSES[kind](**fields)
    return message


MBIN = _load("mbin")
MASCII = _load("mascii")
Z3_LIMITS = limits_for(Catalog().device("serial-cushion-z3"))


@pytest.mark.parametrize("vector", MBIN["valid"], ids=lambda v: v["name"])
def test_mbin_valid_vector_round_trips(vector: dict[str, Any]) -> None:
    wire = bytes.fromhex(vector["hex"])
    expected = message_from_meaning(vector["meaning"])
    assert mbin.decode(wire) == expected
    assert mbin.encode(expected) == wire


@pytest.mark.parametrize("vector", MBIN["invalid"], ids=lambda v: v["name"])
def test_mbin_invalid_vector_raises_its_error(vector: dict[str, Any]) -> None:
    with pytest.raises(FrameError) as info:
        mbin.decode(bytes.fromhex(vector["hex"]))
    assert info.value.kind == vector["error"]


@pytest.mark.parametrize("vector", MASCII["valid"], ids=lambda v: v["name"])
def test_mascii_valid_vector_round_trips(vector: dict[str, Any]) -> None:
    wire = vector["line"].encode("utf-8")
    expected = message_from_meaning(vector["meaning"])
    assert mascii.decode(wire, limits=Z3_LIMITS) == expected
    assert mascii.encode(expected) == wire


@pytest.mark.parametrize("vector", MASCII["invalid"], ids=lambda v: v["name"])
def test_mascii_invalid_vector_raises_its_error(vector: dict[str, Any]) -> None:
    with pytest.raises(FrameError) as info:
        mascii.decode(vector["line"].encode("utf-8"), limits=Z3_LIMITS)
    assert info.value.kind == vector["error"]


@pytest.mark.parametrize("vector", MASCII["invalid"], ids=lambda v: v["name"])
def test_mascii_device_error_replies_decode_to_naks(vector: dict[str, Any]) -> None:
    reply = mascii.decode(vector["device_reply"].encode("utf-8"))
    assert isinstance(reply, m.Nak)
    assert mascii.encode(reply) == vector["device_reply"].encode("utf-8")


@pytest.mark.parametrize(
    "vector", [v for v in MBIN["invalid"] if v["device_reply_hex"]], ids=lambda v: v["name"]
)
def test_mbin_device_error_replies_decode_to_naks(vector: dict[str, Any]) -> None:
    wire = bytes.fromhex(vector["device_reply_hex"])
    reply = mbin.decode(wire)
    assert isinstance(reply, m.Nak)
    assert mbin.encode(reply) == wire


def test_mascii_lower_case_checksum_is_accepted() -> None:
    assert mascii.decode(b"!OK,INT*7b\r\n") == m.Ack(acked="set_intensity")


def test_mascii_has_no_direction_command() -> None:
    with pytest.raises(FrameError) as info:
        mascii.encode(m.SetDirection(direction=1))
    assert info.value.kind == "not_supported"


@pytest.mark.parametrize(
    "message",
    [
        m.SetIntensity(level=256, seq=1),
        m.Hello(seq=300),
        m.IdentityReport(model_code=1, firmware="x", serial=""),
    ],
)
def test_mbin_encode_rejects_values_that_do_not_fit(message: Message) -> None:
    with pytest.raises(FrameError):
        mbin.encode(message)


def test_line_splitter_cuts_lines_and_rejects_an_overlong_run() -> None:
    splitter = mascii.LineSplitter()
    assert splitter.feed(b"!OK,INT*7B\r\n!OK,P") == [b"!OK,INT*7B\r\n"]
    assert splitter.feed(b"ING*38\r\n") == [b"!OK,PING*38\r\n"]
    overlong = splitter.feed(b"!" + b"A" * 100)
    assert len(overlong) == 1
    with pytest.raises(FrameError) as info:
        mascii.decode(overlong[0])
    assert info.value.kind == "bad_length"
    # the rest of the long line is dropped up to its newline; the next line comes through
    assert splitter.feed(b"AAAA\r\n!OK,STOP*30\r\n") == [b"!OK,STOP*30\r\n"]
