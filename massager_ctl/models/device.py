"""Device profile: what one massager model is, how to reach it, what it can do.

One YAML file in ``devices/`` validates into one :class:`DeviceProfile`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
ProtocolFamily = Literal["mbin", "mascii"]


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
    target_c: list[float] = Field(description="Target temperature of each level, off included.")
    max_on_s: int = Field(gt=0, description="Firmware auto-off after this many seconds of heat.")

    @model_validator(mode="after")
    def _consistent(self) -> HeatSpec:
        if self.levels[0] != "off":
            raise ValueError("the first heat level must be 'off'")
        if len(self.target_c) != len(self.levels):
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
    service_uuid: str
    write_uuid: str
    notify_uuid: str
    write_with_response: bool = True
    local_name: str = Field(description="Advertised local name; a glob such as 'PulseP5-*'.")
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
    model_code: int = Field(ge=0, le=255, description="Identity byte/word the device reports.")
    ack_timeout_s: float = Field(0.5, gt=0)
    retries: int = Field(2, ge=0)
    min_command_gap_s: float = Field(0.05, ge=0)


class DeviceProfile(_Strict):
    """One massager model from the catalog."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    maker: str
    description: str = ""
    transport: Literal["ble", "serial"]
    ble: BleSpec | None = None
    serial: SerialSpec | None = None
    protocol: ProtocolSpec
    heads: list[HeadSpec] = Field(min_length=1)
    head_detection: bool = False
    default_head: str
    intensity: IntensitySpec
    heat: HeatSpec | None = None
    modes: list[str] = Field(min_length=1)
    directions: list[str] = Field(default_factory=list)
    battery: bool = False
    watchdog: WatchdogSpec

    @model_validator(mode="after")
    def _consistent(self) -> DeviceProfile:
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
