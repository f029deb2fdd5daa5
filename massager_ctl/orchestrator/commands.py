"""Commands to a device service and the one answer each gets, whatever front end carries them.

A command is a JSON object with an ``action`` and, optionally, an ``id`` of any
JSON type that the answer echoes unchanged and a ``client`` naming the sender (commands are rate-limited per
client). Parsing never raises anything but :class:`CommandError`, whose message
is one plain line meant for the person who sent the command. Every command gets
exactly one :class:`Answer`: done, refused with a reason, or "busy" (send it again).

A routine in a command is a library id, never a file path: anyone who may send
commands must not be able to make the controller open files.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SkipValidation,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from massager_ctl.errors import CommandError as CommandError  # raised here; re-exported for callers

MAX_PAYLOAD_BYTES = 4096
# The routine id syntax (see massager_ctl.models): no '/', '.', '~' or ':', so no path can pass.
_ROUTINE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")


def _routine_id(value: str) -> str:
    if not _ROUTINE_ID.fullmatch(value):
        raise ValueError(
            "must be a library routine id (lowercase letters, digits and '-', e.g. 'desk-break'), "
            "not a file path"
        )
    return value


def _client_id(value: str) -> str:
    if not _CLIENT_ID.fullmatch(value):
        raise ValueError("must be 1-64 letters, digits or '_.:@-'")
    return value


RoutineId = Annotated[str, Field(strict=True), AfterValidator(_routine_id)]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Not validated: any JSON value (string, number, object, array, bool, null) is echoed as it came;
    # parse_command has made sure it is JSON that can be written back (no NaN or Infinity).
    id: Annotated[JsonValue, SkipValidation] = Field(
        None, description="Echoed unchanged in the answer, to match it up; any JSON value."
    )
    client: Annotated[str, AfterValidator(_client_id)] | None = Field(
        None, description="Who sends it (e.g. 'phone'); each client has its own rate limit."
    )


class Start(_Command):
    action: Literal["start"] = "start"
    routine: RoutineId | None = Field(None, description="A library id; default: the selected one.")


class Pause(_Command):
    action: Literal["pause"] = "pause"


class Resume(_Command):
    action: Literal["resume"] = "resume"


class Skip(_Command):
    action: Literal["skip"] = "skip"


class StopCommand(_Command):
    """Stop the session, or make the device safe when none runs; never queued behind anything."""

    action: Literal["stop"] = "stop"


class Confirm(_Command):
    action: Literal["confirm"] = "confirm"


class Extend(_Command):
    action: Literal["extend"] = "extend"
    seconds: float = Field(gt=0, le=1800, strict=True)  # strict: "1" and true are mistakes, not 1


class Intensity(_Command):
    """Either an absolute ``level`` or a ``delta`` from the current level."""

    action: Literal["intensity"] = "intensity"
    level: int | None = Field(None, ge=0, le=100, strict=True)
    delta: int | None = Field(None, ge=-100, le=100, strict=True)

    @model_validator(mode="after")
    def _one_of(self) -> Intensity:
        if (self.level is None) == (self.delta is None):
            raise ValueError("give exactly one of 'level' or 'delta'")
        if self.delta == 0:
            raise ValueError("'delta' must not be 0")
        return self


class Select(_Command):
    """Choose the routine a later ``start`` without ``routine`` runs (Home Assistant's select)."""

    action: Literal["select"] = "select"
    routine: RoutineId


class Head(_Command):
    action: Literal["head"] = "head"
    head: str = Field(min_length=1, max_length=64)


class Heat(_Command):
    action: Literal["heat"] = "heat"
    on: bool = Field(strict=True)


Command = Annotated[
    Start | Pause | Resume | Skip | StopCommand | Confirm | Extend | Intensity | Select | Head | Heat,
    Field(discriminator="action"),
]
ACTIONS = (
    "start",
    "pause",
    "resume",
    "skip",
    "stop",
    "confirm",
    "extend",
    "intensity",
    "select",
    "head",
    "heat",
)
_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(payload: bytes) -> Command:
    """Decode and validate one command.

    Raises:
        CommandError: not JSON, not an object, an unknown action or a bad field.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise CommandError(f"command is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise CommandError(f"command is not valid JSON: {_short(str(e))}") from e
    if not isinstance(data, dict):
        raise CommandError(f"command must be a JSON object with an 'action', not {type(data).__name__}")
    raw_client = data.get("client")
    client = raw_client if isinstance(raw_client, str) and _CLIENT_ID.fullmatch(raw_client) else None
    request_id = data.get("id")
    if not _echoable(request_id):
        raise CommandError(
            "id: must be plain JSON (NaN and Infinity cannot be echoed)", action=_action(data), client=client
        )
    action = data.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        shown = _short(repr(action)) if action is not None else "none"
        raise CommandError(
            f"unknown action {shown}; expected one of {', '.join(ACTIONS)}",
            request_id=request_id,
            client=client,
        )
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as e:
        raise CommandError(_describe(e), action=action, request_id=request_id, client=client) from e


def _echoable(value: JsonValue) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (ValueError, RecursionError):
        return False
    return True


def _action(data: dict[str, Any]) -> str | None:
    action = data.get("action")
    return action if isinstance(action, str) and action in ACTIONS else None


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        # Drop the discriminator tag pydantic puts first in the location.
        loc = [str(p) for p in item["loc"][1:]]
        where = ".".join(loc) or "command"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return _short("; ".join(parts), 300)


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Answer(BaseModel):
    """The one answer to a command.

    ``message`` is the confirmation when ``ok``, else the reason it was refused. ``busy`` marks a
    command refused unheard because its sender (or everyone together) is over the rate limit, or too
    many are in progress: it may be sent again later. ``action``, ``id`` and ``client`` echo the
    command's, as far as they could be read.
    """

    model_config = ConfigDict(frozen=True)

    ok: bool
    message: str
    action: str | None = None
    # The command's id as it came, any JSON value (see _Command.id).
    id: Annotated[JsonValue, SkipValidation] = None
    client: str | None = None
    busy: bool = False

    @classmethod
    def to(cls, command: Command | CommandError, *, ok: bool, message: str, busy: bool = False) -> Answer:
        """The answer to ``command`` (or to what could be read of a malformed one)."""
        if isinstance(command, CommandError):
            return cls(
                ok=ok,
                message=message,
                action=command.action,
                id=command.request_id,
                client=command.client,
                busy=busy,
            )
        return cls(
            ok=ok, message=message, action=command.action, id=command.id, client=command.client, busy=busy
        )

    def to_json(self) -> dict[str, Any]:
        """The answer as a JSON object: ``ok``, ``action``, ``id``, ``client`` and ``busy`` when set,
        then ``message`` when ok or ``error`` when not."""
        body: dict[str, Any] = {"ok": self.ok, "action": self.action, "id": self.id}
        if self.client is not None:
            body["client"] = self.client
        if self.busy:
            body["busy"] = True
        body["message" if self.ok else "error"] = self.message
        return body
