"""Topic names and the device id they are built from."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from massager_ctl.errors import ConfigError

DEFAULT_PREFIX = "massager"
DEFAULT_DISCOVERY_PREFIX = "homeassistant"
# Home Assistant accepts only these characters in a discovery topic's object id.
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_WILDCARDS = re.compile(r"[+#\x00]")


def device_id_for(model_id: str, address: str) -> str:
    """A stable id from the model and the device's address.

    The address is reduced to lowercase letters and digits (``AA:BB:...`` becomes
    ``aabb...``); a long one is shortened with a hash so the id stays readable.
    """
    slug = re.sub(r"[^a-z0-9]", "", address.lower())
    if len(slug) > 16:
        slug = slug[:8] + hashlib.sha1(address.encode()).hexdigest()[:8]
    return f"{model_id}-{slug}" if slug else model_id


def device_id_from_url(device_url: str, model_id: str) -> str:
    """The device id for a device URL (``sim://M``, ``serial:///dev/X?model=M``, ``ble://ADDR``...)."""
    parts = urlsplit(device_url)
    if parts.scheme == "sim":
        return device_id_for(model_id, "sim")
    return device_id_for(model_id, f"{parts.netloc}{parts.path}")


def check_device_id(device_id: str) -> str:
    """Validate a user-chosen device id.

    Raises:
        ConfigError: characters other than letters, digits, ``_`` and ``-``.
    """
    if not _ID.match(device_id):
        raise ConfigError(
            f"device id {device_id!r} must be 1-64 letters, digits, '_' or '-' (Home Assistant's rule)"
        )
    return device_id


def check_prefix(prefix: str, *, what: str = "topic prefix") -> str:
    """Validate a topic prefix.

    Raises:
        ConfigError: empty, or containing MQTT wildcards.
    """
    if not prefix.strip("/") or _WILDCARDS.search(prefix):
        raise ConfigError(f"{what} {prefix!r} must be non-empty and contain no '+', '#' or NUL")
    return prefix.strip("/")


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic of one device: ``<prefix>/<device_id>/...``."""

    prefix: str
    device_id: str
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device_id}"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def session(self) -> str:
        return f"{self.base}/session"

    @property
    def events(self) -> str:
        return f"{self.base}/events"

    @property
    def controller(self) -> str:
        """Retained ``{"id": ...}``: the ``serve`` process that keeps the device (for ``fleet``)."""
        return f"{self.base}/controller"

    @property
    def cmd(self) -> str:
        return f"{self.base}/cmd"

    @property
    def cmd_result(self) -> str:
        return f"{self.base}/cmd/result"

    @property
    def discovery(self) -> str:
        return f"{self.discovery_prefix}/device/{self.device_id}/config"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"


def make_topics(
    *, prefix: str = DEFAULT_PREFIX, device_id: str, discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX
) -> Topics:
    """Validated :class:`Topics`.

    Raises:
        ConfigError: a bad prefix or device id.
    """
    return Topics(
        prefix=check_prefix(prefix),
        device_id=check_device_id(device_id),
        discovery_prefix=check_prefix(discovery_prefix, what="discovery prefix"),
    )
