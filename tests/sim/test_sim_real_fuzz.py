"""The real-product simulators' codecs never fail with anything but the simulator's FrameError."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.families import (
    firmware_for,
    keeson_wire,
    reverie_wire,
    richmat_wire,
    rongtai_wire,
    theragun_wire,
)
from firmware_sim.messages import FrameError
from massager_ctl.catalog import Catalog
from tests.examples import examples

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"
DECODERS: dict[str, Callable[[bytes], Any]] = {
    "keeson": keeson_wire.decode_command,
    "reverie": reverie_wire.decode_command,
    "theragun": theragun_wire.decode_command,
    "rongtai": rongtai_wire.decode_command,
    "richmat": richmat_wire.decode_command,
}


def _commands(family: str) -> list[bytes]:
    data = json.loads((VECTORS / f"{family}.json").read_text(encoding="utf-8"))
    return [bytes.fromhex(v["hex"]) for v in data["valid"] if v["direction"] == "to_device"]


def _damaged(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """A valid frame with one byte changed, or cut short."""
    return st.sampled_from(seeds).flatmap(
        lambda f: st.one_of(
            st.tuples(st.integers(0, len(f) - 1), st.integers(1, 255)).map(
                lambda iv: f[: iv[0]] + bytes([f[iv[0]] ^ iv[1]]) + f[iv[0] + 1 :]
            ),
            st.integers(0, len(f)).map(lambda n: f[:n]),
        )
    )


@pytest.mark.parametrize("family", sorted(DECODERS))
def test_simulator_decoders_decode_or_raise_their_frame_error(family: str) -> None:
    decode = DECODERS[family]

    @settings(max_examples=examples(300), deadline=None)
    @given(st.one_of(st.binary(max_size=24), _damaged(_commands(family))))
    def check(data: bytes) -> None:
        try:
            decode(data)
        except FrameError:
            return

    check()


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.binary(max_size=30), max_size=10))
def test_chair_deframer_output_is_bounded_and_decodes_or_fails_cleanly(chunks: list[bytes]) -> None:
    deframer = rongtai_wire.Deframer()
    for chunk in chunks:
        for frame in deframer.feed(chunk):
            assert frame[0] == rongtai_wire.SOF
            assert len(frame) <= 18
            with contextlib.suppress(FrameError):
                rongtai_wire.decode_command(frame)


@pytest.mark.parametrize("family", sorted(DECODERS))
async def test_firmware_survives_random_and_damaged_input(family: str) -> None:
    """Whatever arrives, the firmware neither raises nor leaves its levels out of range."""
    rng = random.Random(f"fuzz-{family}")
    seeds = _commands(family)
    model = {
        "keeson": "keeson-base-i4",
        "reverie": "reverie-base",
        "theragun": "theragun-pro-4",
        "rongtai": "rongtai-rt6923-chair",
        "richmat": "richmat-wilinke-base",
    }[family]
    sent: list[bytes] = []
    async with firmware_for(Catalog().device(model)) as firmware:
        firmware.connect(sent.append)
        for _ in range(600):
            frame = bytearray(rng.choice(seeds))
            if rng.random() < 0.5 and frame:
                frame[rng.randrange(len(frame))] ^= rng.randrange(1, 256)
            if rng.random() < 0.2:
                frame = bytearray(rng.randbytes(rng.randrange(0, 24)))
            firmware.receive(bytes(frame))
        state = firmware.state
    for name, top in (("head_massage", 10), ("foot_massage", 10), ("speed", 6)):
        assert 0 <= getattr(state, name, 0) <= top
    assert len(firmware.received) > 0
