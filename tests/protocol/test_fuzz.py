"""Property tests: any bytes decode to a message or raise ProtocolError, and encodings round-trip."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from massager_ctl.errors import ProtocolError
from massager_ctl.protocol import mascii, mbin
from tests.examples import examples

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"
MBIN_FRAMES = [bytes.fromhex(v["hex"]) for v in json.loads((VECTORS / "mbin.json").read_text())["valid"]]
MASCII_LINES = [v["line"].encode() for v in json.loads((VECTORS / "mascii.json").read_text())["valid"]]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A valid frame with bytes flipped, inserted, deleted or cut off."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data.insert(at, draw(st.integers(0, 255)))
        elif op == "delete" and data:
            del data[at]
        else:
            del data[at:]
    return bytes(data)


@settings(max_examples=examples(400), deadline=None)
@given(st.one_of(st.binary(max_size=40), mutated(MBIN_FRAMES)))
def test_mbin_decoder_returns_a_message_or_raises_protocol_error(data: bytes) -> None:
    try:
        message = mbin.decode(data)
    except ProtocolError:
        return
    # whatever decodes must re-encode to the very same frame
    assert mbin.encode(message) == data


@settings(max_examples=examples(400), deadline=None)
@given(st.one_of(st.binary(max_size=80), mutated(MASCII_LINES)))
def test_mascii_decoder_returns_a_message_or_raises_protocol_error(data: bytes) -> None:
    try:
        message = mascii.decode(data)
    except ProtocolError:
        return
    assert isinstance(message.seq, int)
    # a decoded line re-encodes to a line that decodes to the same message
    assert mascii.decode(mascii.encode(message)) == message


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.binary(max_size=30), max_size=10))
def test_line_splitter_never_yields_more_than_one_overlong_cut(chunks: list[bytes]) -> None:
    splitter = mascii.LineSplitter()
    for chunk in chunks:
        for line in splitter.feed(chunk):
            assert line.endswith(b"\n") or len(line) == mascii.MAX_LINE + 1
