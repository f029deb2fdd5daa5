"""Home Assistant device-based MQTT discovery (one retained config for all entities).

The payload follows Home Assistant's device discovery schema: shared ``dev``
(device) and ``o`` (origin) mappings, shared availability, and one entry per
entity under ``cmps`` with its platform in ``p``.

A session started from Home Assistant can be finished there: the instruction
sensor shows what the person is asked to do now (the step's prompt, or "fit
the fork head" while the session waits) and the Confirm button answers a wait.
The routine select offers only the routines that pass pre-flight on this device
under the user's caps (:func:`runnable_routines`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from massager_ctl import __version__
from massager_ctl.config import Caps
from massager_ctl.models import DeviceProfile, Routine
from massager_ctl.mqtt.topics import Topics
from massager_ctl.orchestrator.plan import resolve

#: Home Assistant refuses a sensor state longer than this; the whole prompt is in the attributes.
HA_STATE_MAX = 255


def runnable_routines(
    routines: Iterable[Routine], profile: DeviceProfile, caps: Caps
) -> list[tuple[str, str]]:
    """``(id, title)`` of the routines that pass pre-flight on ``profile`` under ``caps``, by id."""
    return sorted((r.id, r.title) for r in routines if not resolve(r, profile, caps).problems)


def _json_command(action: str, **fields: str) -> str:
    # A Jinja template that renders to a JSON command; {{ value }} is the entity's new value.
    extra = "".join(f', "{key}": {value}' for key, value in fields.items())
    return f'{{"action": "{action}"{extra}}}'


def discovery_payload(
    topics: Topics,
    profile: DeviceProfile,
    *,
    routines: Sequence[tuple[str, str]],
    name: str | None = None,
    firmware: str | None = None,
    serial: str | None = None,
) -> dict[str, Any]:
    """The retained config for ``homeassistant/device/<id>/config``.

    Args:
        topics: the device's topics.
        profile: the model (decides which entities exist: battery, heat, heads).
        routines: ``(id, title)`` of the routines the routine select offers (see
            :func:`runnable_routines`).
        name: the device name shown in Home Assistant (default: the model's name).
        firmware: the firmware version the device reported.
        serial: the serial number the device reported.
    """
    uid = topics.device_id
    device: dict[str, Any] = {
        "ids": [f"massager-ctl_{uid}"],
        "name": name or profile.name,
        "mf": profile.maker,
        "mdl": profile.name,
        "mdl_id": profile.id,
    }
    if firmware:
        device["sw"] = firmware
    if serial:
        device["sn"] = serial
    cmps: dict[str, dict[str, Any]] = {}

    def add(key: str, platform: str, name: str, **options: Any) -> None:
        cmps[key] = {"p": platform, "name": name, "unique_id": f"{uid}_{key}", **options}

    on_state = {"state_topic": topics.state}
    on_session = {"state_topic": topics.session}
    if profile.battery:
        add(
            "battery",
            "sensor",
            "Battery",
            **on_state,
            device_class="battery",
            unit_of_measurement="%",
            state_class="measurement",
            entity_category="diagnostic",
            value_template="{{ value_json.battery }}",
        )
    add(
        "status",
        "sensor",
        "Status",
        **on_session,
        icon="mdi:state-machine",
        value_template="{{ value_json.status }}",
    )
    add(
        "step",
        "sensor",
        "Step",
        **on_session,
        icon="mdi:format-list-numbered",
        value_template="{{ value_json.step_title if value_json.step_title is not none else '' }}",
    )
    add(
        "prompt",
        "sensor",
        "Instruction",
        **on_session,
        icon="mdi:account-voice",
        value_template=f"{{{{ (value_json.prompt or '')[:{HA_STATE_MAX}] }}}}",
        json_attributes_topic=topics.session,
        json_attributes_template="{{ {'prompt': value_json.prompt, 'waiting_for': value_json.waiting_for, "
        "'step': value_json.step_title} | tojson }}",
    )
    add(
        "remaining",
        "sensor",
        "Remaining time",
        **on_session,
        device_class="duration",
        unit_of_measurement="s",
        value_template="{{ value_json.session_remaining_s | round(0) if value_json.session_remaining_s "
        "is not none else 0 }}",
    )
    add(
        "intensity",
        "number",
        "Intensity",
        **on_state,
        command_topic=topics.cmd,
        min=0,
        max=profile.intensity.max_level,
        step=1,
        mode="slider",
        value_template="{{ value_json.intensity }}",
        command_template=_json_command("intensity", level="{{ value | int }}"),
    )
    add(
        "head",
        "select",
        "Head",
        **on_state,
        command_topic=topics.cmd,
        options=[h.id for h in profile.heads],
        value_template="{{ value_json.head }}",
        command_template=_json_command("head", head='"{{ value }}"'),
    )
    if routines:
        add(
            "routine",
            "select",
            "Routine",
            **on_session,
            command_topic=topics.cmd,
            options=[routine_id for routine_id, _ in routines],
            value_template="{{ value_json.routine }}",
            command_template=_json_command("select", routine='"{{ value }}"'),
        )
    if profile.heat is not None:
        add(
            "heat",
            "switch",
            "Heat",
            **on_state,
            command_topic=topics.cmd,
            state_on="ON",
            state_off="OFF",
            # a stale state carries heat_level null: "None" makes the switch unknown, not off
            value_template="{{ 'None' if value_json.heat_level is none "
            "else ('ON' if value_json.heat_level > 0 else 'OFF') }}",
            payload_on=_json_command("heat", on="true"),
            payload_off=_json_command("heat", on="false"),
        )
    for action, icon in (
        ("start", "mdi:play"),
        ("pause", "mdi:pause"),
        ("resume", "mdi:play-pause"),
        ("skip", "mdi:skip-next"),
        ("confirm", "mdi:check-bold"),
        ("stop", "mdi:stop"),
    ):
        add(
            action,
            "button",
            action.capitalize(),
            command_topic=topics.cmd,
            icon=icon,
            payload_press=_json_command(action),
        )
    return {
        "dev": device,
        "o": {"name": "massager-ctl", "sw": __version__},
        "availability": [
            {"topic": topics.availability, "payload_available": "online", "payload_not_available": "offline"}
        ],
        "qos": 1,
        "cmps": cmps,
    }
