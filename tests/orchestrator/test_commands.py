"""Command parsing: every bad payload gets one clear line, good ones become typed commands."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from massager_ctl.orchestrator.commands import (
    ACTIONS,
    Answer,
    CommandError,
    Extend,
    Intensity,
    Start,
    parse_command,
)
from tests.examples import examples


def test_start_with_and_without_routine() -> None:
    assert parse_command(b'{"action": "start", "routine": "desk-break"}') == Start(
        action="start", routine="desk-break"
    )
    assert parse_command(b'{"action": "start", "id": "r1"}') == Start(action="start", id="r1")


def test_extend_and_intensity() -> None:
    assert parse_command(b'{"action": "extend", "seconds": 30}') == Extend(action="extend", seconds=30)
    assert parse_command(b'{"action": "intensity", "level": 3}').level == 3  # type: ignore[union-attr]
    nudge = parse_command(b'{"action": "intensity", "delta": -1}')
    assert isinstance(nudge, Intensity)
    assert nudge.delta == -1


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"start"', "must be a JSON object"),
        (b"{}", "unknown action none"),
        (b'{"action": "explode"}', "unknown action 'explode'; expected one of start, pause"),
        (b'{"action": 7}', "unknown action 7"),
        (b'{"action": "extend"}', "seconds: Field required"),
        (b'{"action": "extend", "seconds": 0}', "seconds: Input should be greater than 0"),
        (b'{"action": "extend", "seconds": 99999}', "seconds: Input should be less than or equal to 1800"),
        (b'{"action": "intensity", "level": 101}', "level: Input should be less than or equal to 100"),
        (b'{"action": "intensity", "level": "3"}', "level: Input should be a valid integer"),
        (b'{"action": "intensity", "level": 2, "delta": 1}', "exactly one of 'level' or 'delta'"),
        (b'{"action": "intensity", "delta": 0}', "'delta' must not be 0"),
        (b'{"action": "pause", "force": true}', "force: Extra inputs are not permitted"),
        (b'{"action": "heat", "on": "yes"}', "on: Input should be a valid boolean"),
        # Strict like intensity: a string or a boolean is a mistake, not a number of seconds.
        (b'{"action": "extend", "seconds": "1"}', "seconds: Input should be a valid number"),
        (b'{"action": "extend", "seconds": true}', "seconds: Input should be a valid number"),
        (b'{"action": "extend", "seconds": NaN}', "seconds: Input should be"),
        # Remote commands name library routines only: a path never reaches the catalog.
        (b'{"action": "start", "routine": "/etc/passwd"}', "routine: must be a library routine id"),
        (b'{"action": "start", "routine": "routines/desk-break.yaml"}', "not a file path"),
        (b'{"action": "select", "routine": "../../home/u/bomb.yml"}', "not a file path"),
        (b'{"action": "select", "routine": "~/x"}', "not a file path"),
        (b'{"action": "select", "routine": "Desk-Break"}', "not a file path"),
        (b'{"action": "select", "routine": ""}', "not a file path"),
        (b'{"action": "select", "routine": 5}', "routine: Input should be a valid string"),
        (b'{"action": "pause", "client": "a b"}', "client: must be 1-64"),
        (b"[" * 5000, "the limit is 4096"),
    ],
)
def test_bad_commands_are_explained(payload: bytes, message: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_command(payload)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_the_id_is_kept_for_the_answer_even_when_invalid() -> None:
    with pytest.raises(CommandError) as info:
        parse_command(b'{"action": "extend", "seconds": -5, "id": "abc"}')
    assert (info.value.action, info.value.request_id) == ("extend", "abc")


def test_the_client_is_read_even_from_an_invalid_command() -> None:
    assert parse_command(b'{"action": "pause", "client": "phone"}').client == "phone"
    with pytest.raises(CommandError) as info:
        parse_command(b'{"action": "explode", "client": "phone", "id": "7"}')
    assert (info.value.client, info.value.request_id) == ("phone", "7")


def test_extend_takes_whole_and_fractional_seconds() -> None:
    extend = parse_command(b'{"action": "extend", "seconds": 1.5}')
    assert isinstance(extend, Extend)
    assert extend.seconds == 1.5


def test_answer_shapes() -> None:
    assert Answer(ok=True, action="pause", id="x", message="paused").to_json() == {
        "ok": True,
        "action": "pause",
        "id": "x",
        "message": "paused",
    }
    assert Answer(ok=False, action=None, id=None, message="bad").to_json()["error"] == "bad"
    assert Answer(
        ok=False, action="pause", id="y", client="phone", message="busy: ...", busy=True
    ).to_json() == {
        "ok": False,
        "action": "pause",
        "id": "y",
        "client": "phone",
        "busy": True,
        "error": "busy: ...",
    }


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_else(payload: bytes) -> None:
    message = None
    try:
        command = parse_command(payload)
    except CommandError as e:
        message = str(e)
    else:
        assert command.action in ACTIONS
    assert message is None or (message and "\n" not in message)


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["action", "seconds", "level", "delta", "routine", "on", "id", "head"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.floats(allow_nan=True),
            st.text(max_size=8),
            st.sampled_from(ACTIONS),
            st.booleans(),
        ),
    )
)
def test_arbitrary_objects_never_raise_anything_else(data: dict[str, object]) -> None:
    message = ""
    try:
        parse_command(json.dumps(data).encode())
    except CommandError as e:
        message = str(e)
    assert "\n" not in message


@pytest.mark.parametrize(
    "request_id",
    ["r1", "x" * 200, "", 7, -1.5, 10**30, True, False, None, {"n": [1, {"k": None}]}, [1, "a", False], []],
)
def test_an_id_of_any_json_type_is_kept_as_it_came(request_id: object) -> None:
    payload = json.dumps({"action": "pause", "id": request_id}).encode()
    command = parse_command(payload)
    assert command.id == request_id
    assert type(command.id) is type(request_id)  # True stays a bool, 1 is not 1.0
    with pytest.raises(CommandError) as info:
        parse_command(json.dumps({"action": "extend", "seconds": -1, "id": request_id}).encode())
    assert info.value.request_id == request_id
    assert type(info.value.request_id) is type(request_id)
    refused = json.loads(json.dumps(Answer.to(info.value, ok=False, message="no").to_json()))
    assert refused["id"] == request_id
    echoed = json.loads(json.dumps(Answer.to(command, ok=True, message="").to_json()))
    assert echoed["id"] == request_id


@pytest.mark.parametrize("bad", [b"NaN", b"Infinity", b"[1, -Infinity]", b'{"a": NaN}'])
def test_an_id_that_cannot_be_written_back_as_json_is_refused(bad: bytes) -> None:
    with pytest.raises(CommandError) as info:
        parse_command(b'{"action": "pause", "client": "phone", "id": ' + bad + b"}")
    assert str(info.value) == "id: must be plain JSON (NaN and Infinity cannot be echoed)"
    assert (info.value.action, info.value.request_id, info.value.client) == ("pause", None, "phone")
