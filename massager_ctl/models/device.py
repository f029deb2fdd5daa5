"""Device profile: what one massager model is, how to reach it, what it can do.

One YAML file in ``devices/`` validates into one :class:`DeviceProfile`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from massager_ctl.errors import ConfigError

HeadKind = Literal[
    "ball",
    "flat",
    "fork",
    "bullet",
    "cushion",
    "wedge",
    "thumb",
    "zone-upper",
    "zone-middle",
    "zone-lower",
    "full-back",
]
ProtocolFamily = Literal["mbin", "mascii", "keeson", "reverie", "theragun", "rongtai", "richmat", "none"]
Confidence = Literal["high", "medium-high", "medium", "medium-low", "low-medium", "low"]
Capability = Literal["intensity", "head", "heat", "mode", "direction", "timer", "stop"]


class _Strict(BaseModel):
    # a NaN or infinite timeout or temperature would pass every comparison-based bound unnoticed
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class HeadSpec(_Strict):
    """A head: a swappable attachment (``manual``) or a zone the device moves to (``motorized``)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    kind: HeadKind
    change: Literal["manual", "motorized"]
    code: int = Field(ge=0, le=254, description="The head's number on the wire.")
    use: str = Field("", description="What the head is for, shown when a person is asked to fit it.")


class IntensitySpec(_Strict):
    """Intensity levels 0..max_level; 0 always means motor off."""

    max_level: int = Field(ge=1, le=100)
    unit: Literal["level", "percent"] = "level"
    percussions_per_min: list[int] = Field(
        default_factory=list, description="Display only: stroke rate of each level 1..max_level."
    )

    @model_validator(mode="after")
    def _rates_match_levels(self) -> IntensitySpec:
        if self.percussions_per_min and len(self.percussions_per_min) != self.max_level:
            raise ValueError(f"percussions_per_min needs {self.max_level} entries, one per level")
        return self

    def level_for(self, value: int | float) -> int:
        """Map a routine's intensity (a level, or a fraction 0–1 as float) to this model's level."""
        if isinstance(value, float):
            if value <= 0:
                return 0
            return max(1, min(self.max_level, round(value * self.max_level)))
        return max(0, min(self.max_level, value))


class HeatSpec(_Strict):
    """Heat levels (index 0 is off) and the firmware's own auto-off."""

    levels: list[str] = Field(min_length=2)
    target_c: list[float] = Field(
        default_factory=list,
        description="Target temperature of each level, off included; empty when not known.",
    )
    max_on_s: int = Field(gt=0, description="Firmware auto-off after this many seconds of heat.")
    with_motor_only: bool = Field(
        default=False, description="The device heats only while its massage runs (a chair's program)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> HeatSpec:
        if self.levels[0] != "off":
            raise ValueError("the first heat level must be 'off'")
        if self.target_c and len(self.target_c) != len(self.levels):
            raise ValueError("target_c needs one temperature per heat level")
        return self

    def code_for(self, level: str) -> int:
        """The wire code of a heat level name (``off`` is 0)."""
        return self.levels.index(level)


class WatchdogSpec(_Strict):
    """The dead-man watchdog: silence longer than ``timeout_s`` stops the device."""

    timeout_s: float = Field(gt=0, le=3.0)
    keepalive_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _keepalive_fits(self) -> WatchdogSpec:
        if self.keepalive_s * 2 > self.timeout_s:
            raise ValueError("keepalive_s must be at most half of timeout_s")
        return self


class BleSpec(_Strict):
    service_uuid: str = Field(description="The service the write characteristic lives in (also advertised).")
    write_uuid: str
    notify_uuid: str | None = Field(None, description="Where the device notifies; none for a silent device.")
    status_service_uuid: str | None = Field(
        None, description="The service of the notify characteristic, when it is not service_uuid's."
    )
    write_with_response: bool = True
    local_name: str = Field(
        "", description="Advertised local name; a glob such as 'PulseP5-*'. Empty: found by service UUID."
    )
    battery_service: bool = False


class SerialSpec(_Strict):
    baudrate: int = 115200
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: float = Field(1, description="1, 1.5 or 2.")
    timeout_s: float = 0.1
    write_timeout_s: float = 1.0
    usb_ids: list[str] = Field(default_factory=list, description="USB 'VID:PID' pairs in hex.")

    @model_validator(mode="after")
    def _usb_ids_form(self) -> SerialSpec:
        if self.stopbits not in (1, 1.5, 2):
            raise ValueError("stopbits must be 1, 1.5 or 2")
        for usb_id in self.usb_ids:
            if not re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}", usb_id):
                raise ValueError(f"usb id {usb_id!r} is not VID:PID in hex")
        return self


class ProtocolSpec(_Strict):
    family: ProtocolFamily
    model_code: int = Field(
        0, ge=0, le=255, description="Identity byte/word the device reports (reference models)."
    )
    ack_timeout_s: float = Field(0.5, gt=0)
    retries: int = Field(2, ge=0)
    min_command_gap_s: float = Field(0.05, ge=0)


class WatchdogFailsafe(_Strict):
    """The device's dead-man watchdog (the ``watchdog`` section) stops it when the controller is silent."""

    type: Literal["watchdog"] = "watchdog"


class DeviceTimerFailsafe(_Strict):
    """The device's own massage timer stops it, whatever the controller does.

    Attributes:
        timer_s: the values the timer can take, shortest first.
        settable: whether the protocol can choose the value (else the device's default runs).
        default_s: what runs when massage starts without a choice, if known.
        note: what is known and what is assumed.
    """

    type: Literal["device-timer"]
    timer_s: list[int] = Field(min_length=1)
    settable: bool
    default_s: int | None = None
    note: str = ""

    @model_validator(mode="after")
    def _sorted(self) -> DeviceTimerFailsafe:
        if self.timer_s != sorted(self.timer_s) or min(self.timer_s) <= 0:
            raise ValueError("timer_s must be positive and shortest first")
        if self.default_s is not None and self.default_s not in self.timer_s:
            raise ValueError("default_s must be one of timer_s")
        return self

    def covering(self, remaining_s: float) -> int:
        """The shortest timer value that covers ``remaining_s`` (the longest if none does)."""
        return next((t for t in self.timer_s if t >= remaining_s), self.timer_s[-1])


class NoFailsafe(_Strict):
    """Nothing stops the device if the controller goes silent."""

    type: Literal["none"]
    note: str = ""


Failsafe = Annotated[WatchdogFailsafe | DeviceTimerFailsafe | NoFailsafe, Field(discriminator="type")]


class ControlSpec(_Strict):
    """How one capability is driven, and what confirms it.

    ``absolute``: the command carries the value. ``steps``: +/- keys, repeated until the reported
    value equals the target. ``toggle``: one key flips it; the report says which way it went.
    ``open-loop``: sent and assumed (nothing comes back).
    """

    style: Literal["absolute", "steps", "toggle", "open-loop"]
    confirmation: Literal["ack", "status", "none"]

    @model_validator(mode="after")
    def _confirmable(self) -> ControlSpec:
        if self.style in ("steps", "toggle") and self.confirmation != "status":
            raise ValueError(f"{self.style} control needs the status to confirm where it landed")
        if self.style == "open-loop" and self.confirmation != "none":
            raise ValueError("open-loop control has no confirmation by definition")
        return self


#: What a reference model does for every capability: the command carries the value, an ack confirms it.
REFERENCE_CONTROL = ControlSpec(style="absolute", confirmation="ack")


class SourceSpec(_Strict):
    """A public source the model's protocol facts come from."""

    repo: str
    path: str = ""
    licence: str = Field(description="SPDX id, or 'none' when the source publishes no licence.")
    note: str = ""


class DeviceProfile(_Strict):
    """One massager model from the catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    maker: str
    description: str = ""
    kind: Literal["product", "reference"] = Field(
        "reference", description="A real product, or one of this project's reference protocols for makers."
    )
    products: list[str] = Field(default_factory=list, description="Products this profile covers.")
    confidence: Confidence = Field("high", description="How sure the protocol facts are (reference: high).")
    sources: list[SourceSpec] = Field(default_factory=list)
    transport: Literal["ble", "serial", "none"]
    ble: BleSpec | None = None
    serial: SerialSpec | None = None
    protocol: ProtocolSpec
    heads: list[HeadSpec] = Field(min_length=1)
    head_detection: bool = False
    set_by_person: bool = Field(
        False,
        description="Settings are instructions a person carries out (manual://): a heat change waits for"
        " their confirm, and the final stop is asked of them, never confirmed by a device.",
    )
    default_head: str
    intensity: IntensitySpec
    heat: HeatSpec | None = None
    modes: list[str] = Field(min_length=1)
    directions: list[str] = Field(default_factory=list)
    battery: bool = False
    watchdog_spec: WatchdogSpec | None = Field(None, alias="watchdog")
    failsafe: Failsafe = Field(default_factory=WatchdogFailsafe)
    control: dict[Capability, ControlSpec] = Field(
        default_factory=dict,
        description="Per capability; a capability left out is absolute, confirmed by ack.",
    )

    @property
    def watchdog(self) -> WatchdogSpec:
        """The dead-man watchdog.

        Raises:
            ConfigError: the model has none (its fail-safe is something else).
        """
        if self.watchdog_spec is None:
            raise ConfigError(f"{self.id} has no watchdog (its fail-safe: {self.failsafe.type})")
        return self.watchdog_spec

    @property
    def silence_stop_s(self) -> float | None:
        """How soon the device stops by itself once the controller falls silent: its watchdog's
        timeout, or ``None`` when nothing stops it that soon (a device timer of minutes, or nothing)."""
        return self.watchdog_spec.timeout_s if self.watchdog_spec is not None else None

    @property
    def unattended_risk(self) -> str | None:
        """Why leaving this model unattended is unsafe, or ``None``: with neither feedback nor a
        fail-safe, nothing confirms its stop and nothing stops it if the controller dies."""
        if self.control_for("stop").confirmation == "none" and isinstance(self.failsafe, NoFailsafe):
            return (
                f"{self.id} reports nothing back (its stop can be sent, never confirmed) and has no"
                " fail-safe (no watchdog, no massage timer): if this controller dies it may run on"
            )
        return None

    def control_for(self, capability: Capability) -> ControlSpec:
        """How ``capability`` is driven and confirmed on this model."""
        return self.control.get(capability, REFERENCE_CONTROL)

    @model_validator(mode="after")
    def _consistent(self) -> DeviceProfile:
        if isinstance(self.failsafe, WatchdogFailsafe) and self.watchdog_spec is None:
            raise ValueError("a watchdog fail-safe needs a 'watchdog' section")
        if self.kind == "product" and not self.sources:
            raise ValueError("a product model names its public sources")
        if self.kind == "product" and not {"intensity", "stop"} <= set(self.control):
            raise ValueError("a product model says how its intensity and its stop are controlled")
        if (
            self.ble is not None
            and self.ble.notify_uuid is None
            and any(c.confirmation != "none" for c in self.control.values())
        ):
            raise ValueError("a device that notifies nothing cannot confirm a capability")
        if (self.transport == "none") != (self.protocol.family == "none"):
            raise ValueError("transport 'none' and protocol family 'none' go together (no device at all)")
        if self.transport == "ble" and self.ble is None:
            raise ValueError("a BLE model needs a 'ble' section")
        if self.transport == "serial" and self.serial is None:
            raise ValueError("a serial model needs a 'serial' section")
        ids = [h.id for h in self.heads]
        if len(set(ids)) != len(ids):
            raise ValueError("head ids must be unique")
        if len({h.code for h in self.heads}) != len(self.heads):
            raise ValueError("head codes must be unique")
        if self.default_head not in ids:
            raise ValueError(f"default_head {self.default_head!r} is not one of the heads {ids}")
        return self

    def head(self, ref: str) -> HeadSpec | None:
        """Find a head by id, else by kind (the first of that kind)."""
        for head in self.heads:
            if head.id == ref:
                return head
        return next((h for h in self.heads if h.kind == ref), None)

    def head_by_code(self, code: int) -> HeadSpec | None:
        return next((h for h in self.heads if h.code == code), None)
