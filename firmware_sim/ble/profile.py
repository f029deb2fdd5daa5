"""What a simulated BLE massager shows over the air: names, UUIDs and its static address."""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BleProfile", "GattCharacteristicLayout", "GattServiceLayout"]

_REQUIRED_KEYS = ("local_name", "service_uuid", "write_uuid", "notify_uuid")


@dataclass(frozen=True, kw_only=True)
class GattCharacteristicLayout:
    """One characteristic the firmware uses: written with frames, notifying frames, or both."""

    uuid: str
    write: bool = False
    notify: bool = False


@dataclass(frozen=True, kw_only=True)
class GattServiceLayout:
    """One primary service and the characteristics in it."""

    uuid: str
    characteristics: tuple[GattCharacteristicLayout, ...]


@dataclass(frozen=True, kw_only=True)
class BleProfile:
    """The GATT layout and advertisement of one simulated device.

    Attributes:
        model_id: Catalog id of the model (``pulse-gun-p5``).
        local_name: The advertised complete local name (``PulseP5-0042``).
        service_uuid: The UART-style service, advertised and served.
        write_uuid: The characteristic the controller writes frames to (RX).
        notify_uuid: The characteristic the device notifies frames on (TX).
        battery_service: Whether the standard Battery Service (0x180F) is served.
        address: The random static address the device advertises from.
        services: The GATT layout when it is not one UART-style service (a product's own layout:
            separate command and status services, one characteristic written and notifying, or
            no notify characteristic at all); empty for the UART-style layout.
    """

    model_id: str
    local_name: str
    service_uuid: str
    write_uuid: str
    notify_uuid: str
    battery_service: bool
    address: str
    services: tuple[GattServiceLayout, ...] = ()

    def layout(self) -> tuple[GattServiceLayout, ...]:
        """The services to serve: :attr:`services`, else one service with RX (write) and TX (notify)."""
        if self.services:
            return self.services
        rx = GattCharacteristicLayout(uuid=self.write_uuid, write=True)
        tx = GattCharacteristicLayout(uuid=self.notify_uuid, notify=True)
        return (GattServiceLayout(uuid=self.service_uuid, characteristics=(rx, tx)),)

    @classmethod
    def for_product(cls, model_id: str, ble: Mapping[str, Any], *, serial: str) -> BleProfile:
        """A real product's profile from its catalog ``ble:`` section, in the product's own GATT layout.

        The write and notify characteristics may be one and the same, the notify characteristic may
        live in a service of its own (``status_service_uuid``) or be missing (a device that reports
        nothing), and the local name may be unknown (empty: the device advertises its service only).

        Raises:
            ValueError: The service or write UUID is missing, or the serial is unusable.
        """
        if not ble.get("service_uuid") or not ble.get("write_uuid"):
            raise ValueError(f"model {model_id!r}: ble section lacks service_uuid or write_uuid")
        pattern = str(ble.get("local_name") or "")
        named = cls.from_catalog(
            model_id,
            {**ble, "local_name": pattern or "unnamed", "notify_uuid": ble.get("notify_uuid") or "-"},
            serial=serial,
        )
        write = str(ble["write_uuid"]).lower()
        notify = str(ble["notify_uuid"]).lower() if ble.get("notify_uuid") else None
        status_service = str(ble.get("status_service_uuid") or "").lower()
        command = [GattCharacteristicLayout(uuid=write, write=True, notify=notify == write)]
        services = [GattServiceLayout(uuid=named.service_uuid, characteristics=tuple(command))]
        if notify is not None and notify != write:
            tx = GattCharacteristicLayout(uuid=notify, notify=True)
            if status_service and status_service != named.service_uuid:
                services.append(GattServiceLayout(uuid=status_service, characteristics=(tx,)))
            else:
                services[0] = GattServiceLayout(uuid=named.service_uuid, characteristics=(command[0], tx))
        return cls(
            model_id=model_id,
            local_name=named.local_name if pattern else "",
            service_uuid=named.service_uuid,
            write_uuid=write,
            notify_uuid=notify or "",
            battery_service=False,
            address=named.address,
            services=tuple(services),
        )

    @classmethod
    def from_catalog(cls, model_id: str, ble: Mapping[str, Any], *, serial: str) -> BleProfile:
        """Build a profile from a catalog model's ``ble:`` section.

        The ``*`` of the catalog's local-name glob becomes the last four letters or digits of
        ``serial``, as many devices put a short unit code in their name (``PulseP5-0042``); the
        address is derived from the model and the whole serial so a unit keeps it across
        restarts.

        Args:
            model_id: The catalog id of the model.
            ble: The model's ``ble:`` mapping (``local_name``, ``service_uuid``, ``write_uuid``,
                ``notify_uuid``, optional ``battery_service``).
            serial: The unit's serial number (printable ASCII, at most 8 characters).

        Raises:
            ValueError: A key is missing, the serial is unusable, or the resulting name does
                not match the catalog's glob.
        """
        missing = [key for key in _REQUIRED_KEYS if not ble.get(key)]
        if missing:
            raise ValueError(f"model {model_id!r}: ble section lacks {', '.join(missing)}")
        if not serial or len(serial) > 8 or not serial.isascii() or not serial.isprintable():
            raise ValueError(f"serial must be 1-8 printable ASCII characters, got {serial!r}")
        pattern = str(ble["local_name"])
        unit_code = "".join(c for c in serial if c.isalnum())[-4:] or serial
        name = pattern.replace("*", unit_code, 1) if "*" in pattern else pattern
        if not fnmatch.fnmatchcase(name, pattern):
            raise ValueError(f"local name {name!r} does not match the catalog pattern {pattern!r}")
        return cls(
            model_id=model_id,
            local_name=name,
            service_uuid=str(ble["service_uuid"]).lower(),
            write_uuid=str(ble["write_uuid"]).lower(),
            notify_uuid=str(ble["notify_uuid"]).lower(),
            battery_service=bool(ble.get("battery_service", False)),
            address=_static_address(f"{model_id}/{serial}"),
        )


def _static_address(seed: str) -> str:
    """A random static address (two top bits set, Core Vol 6 Part B 1.3.2.1) derived from seed."""
    raw = bytearray(hashlib.sha256(seed.encode()).digest()[:6])
    raw[0] |= 0xC0
    return ":".join(f"{b:02X}" for b in raw)
