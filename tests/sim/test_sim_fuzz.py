"""Nothing crashes the firmware: random and near-valid input, with every reply still well formed."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_sim import SimulatedDevice, mascii, mbin
from firmware_sim.messages import (
    Command,
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
from massager_ctl.errors import ProtocolError
from tests.examples import examples

MODELS = ["pulse-gun-p5", "shiatsu-cushion-s3", "serial-cushion-z3"]
PROFILES = {model: Catalog().device(model) for model in MODELS}

arg = st.integers(min_value=0, max_value=255)
commands: st.SearchStrategy[Command] = st.one_of(
    st.builds(Hello),
    st.builds(Ping),
    st.builds(SetIntensity, arg),
    st.builds(SetHead, arg),
    st.builds(SetHeat, arg),
    st.builds(SetMode, arg),
    st.builds(SetDirection, arg),
    st.builds(Stop),
    st.builds(GetStatus),
)


def _mbin_input() -> st.SearchStrategy[bytes]:
    valid = st.tuples(st.integers(1, 255), commands).map(lambda sc: mbin.encode_command(*sc))
    damaged = valid.flatmap(
        lambda f: st.tuples(st.integers(0, len(f) - 1), st.integers(1, 255)).map(
            lambda iv: f[: iv[0]] + bytes([f[iv[0]] ^ iv[1]]) + f[iv[0] + 1 :]
        )
    )
    return st.one_of(valid, damaged, st.binary(max_size=24), st.just(b"\xa5"))


def _mascii_input() -> st.SearchStrategy[bytes]:
    valid = commands.map(mascii.encode_command)
    text = st.text(alphabet=st.characters(codec="ascii"), max_size=80).map(str.encode)
    return st.one_of(valid, text, st.binary(max_size=100), st.just(b"\n"), st.just(b"$" * 70 + b"\n"))


async def _run(model: str, chunks: list[bytes]) -> None:
    profile = PROFILES[model]
    decode = mascii.decode_reply if profile.protocol.family == "mascii" else mbin.decode_reply
    async with SimulatedDevice(profile) as device:
        link = device.virtual_link()
        for chunk in chunks:
            await link.send(chunk)
            while (frame := link.recv_nowait()) is not None:
                decode(frame)  # the device only ever sends well-formed frames
            state = device.firmware.state
            assert 0 <= state.intensity <= profile.intensity.max_level
            assert state.motor == (state.intensity > 0)
            assert 0 <= state.heat < (len(profile.heat.levels) if profile.heat else 1)
            assert state.mode in profile.modes


@pytest.mark.parametrize("model", MODELS)
@settings(
    max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_firmware_survives_anything(
    model: str, data: st.DataObject, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    family = PROFILES[model].protocol.family
    chunk = _mascii_input() if family == "mascii" else _mbin_input()
    chunks = data.draw(st.lists(chunk, max_size=30))
    with caplog.at_level(logging.ERROR, logger="firmware_sim"):
        asyncio.run(_run(model, chunks))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@given(data=st.binary(max_size=40))
def test_mbin_decoders_return_or_raise_protocol_error(data: bytes) -> None:
    for decode in (mbin.decode_command, mbin.decode_reply):
        with contextlib.suppress(ProtocolError):
            decode(data)


@given(data=st.binary(max_size=90))
def test_mascii_decoders_return_or_raise_protocol_error(data: bytes) -> None:
    for decode in (mascii.decode_command, mascii.decode_reply):
        with contextlib.suppress(ProtocolError):
            decode(data)
