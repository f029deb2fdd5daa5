"""Property tests of the real families' decoders: any bytes decode or raise ProtocolError, nothing else."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from massager_ctl.errors import ProtocolError
from massager_ctl.protocol import keeson, reverie, richmat, rongtai, theragun
from tests.examples import examples
from tests.protocol.test_fuzz import mutated

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"


def _frames(family: str, direction: str) -> list[bytes]:
    data = json.loads((VECTORS / f"{family}.json").read_text(encoding="utf-8"))
    return [bytes.fromhex(v["hex"]) for v in data["valid"] if v["direction"] == direction]


# (decoder, encoder that must reproduce a decoded frame or None, seed frames)
COMMAND_DECODERS: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], bytes]]] = {
    "keeson": (keeson.decode_command, keeson.encode),
    "reverie": (reverie.decode_command, reverie.encode),
    "theragun": (theragun.decode_command, theragun.encode),
    "rongtai": (rongtai.decode_command, rongtai.encode),
    "richmat": (richmat.decode_command, richmat.encode),
}
REPLY_DECODERS: dict[str, Callable[[bytes], Any]] = {
    "keeson": keeson.decode_status,
    "reverie": reverie.decode_status,
    "theragun": theragun.decode_reply,
    "rongtai": rongtai.decode_status,
}


@pytest.mark.parametrize("family", sorted(COMMAND_DECODERS))
def test_command_decoders_decode_or_raise_protocol_error(family: str) -> None:
    decode, encode = COMMAND_DECODERS[family]

    @settings(max_examples=examples(300), deadline=None)
    @given(st.one_of(st.binary(max_size=24), mutated(_frames(family, "to_device"))))
    def check(data: bytes) -> None:
        try:
            message = decode(data)
        except ProtocolError:
            return
        # whatever decodes is a frame the controller itself would send
        assert encode(message) == data

    check()


@pytest.mark.parametrize("family", sorted(REPLY_DECODERS))
def test_reply_decoders_decode_or_raise_protocol_error(family: str) -> None:
    decode = REPLY_DECODERS[family]

    @settings(max_examples=examples(300), deadline=None)
    @given(st.one_of(st.binary(max_size=24), mutated(_frames(family, "from_device"))))
    def check(data: bytes) -> None:
        try:
            decode(data)
        except ProtocolError:
            return

    check()


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.binary(max_size=30), max_size=10))
def test_chair_splitter_yields_only_bounded_frames_starting_at_f0(chunks: list[bytes]) -> None:
    splitter = rongtai.FrameSplitter()
    for chunk in chunks:
        for frame in splitter.feed(chunk):
            assert frame[0] == rongtai.START
            assert len(frame) <= rongtai.MAX_FRAME + 1
            with contextlib.suppress(ProtocolError):
                rongtai.decode_status(frame)
