"""Which devices ``serve`` keeps: its ``--device`` options, else the ``[[devices]]`` tables of config.toml.

Only the standard library at the top: ``serve --help`` must stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from massager_ctl.errors import ConfigError

if TYPE_CHECKING:
    from massager_ctl.config import ServedDevice


@dataclass(frozen=True, slots=True)
class DevicePlan:
    """One device to serve, its id decided and checked."""

    url: str
    model: str
    device_id: str
    name: str | None = None
    routine: str | None = None


def plan_devices(
    *,
    urls: Sequence[str],
    ids: Sequence[str],
    configured: Sequence[ServedDevice],
    routine: str | None,
    model_of: Callable[[str], str],
    default_id: Callable[[str, str], str],
    check_id: Callable[[str], str],
) -> list[DevicePlan]:
    """The devices to serve, in the order given.

    ``--device`` options win over the config file's ``[[devices]]``; the n-th ``--device-id``
    names the n-th ``--device``. ``routine`` (``--routine``) is the default of every device
    that names none of its own.

    Args:
        urls: the ``--device`` options.
        ids: the ``--device-id`` options.
        configured: the ``[[devices]]`` tables.
        routine: the default routine.
        model_of: the catalog model id of a device URL.
        default_id: the device id of ``(url, model)`` when none is given.
        check_id: validates a device id.

    Raises:
        ConfigError: no device at all, ids that do not pair with devices, or two devices
            with the same id.
    """
    wanted: list[tuple[str, str | None, str | None, str | None]]  # url, id, name, routine
    if urls:
        if ids and len(ids) != len(urls):
            raise ConfigError(
                f"{len(ids)} --device-id for {len(urls)} --device: give one id per device, in the same order"
            )
        wanted = [(url, ids[n] if ids else None, None, None) for n, url in enumerate(urls)]
    elif ids:
        raise ConfigError("--device-id needs a --device (config.toml's [[devices]] take id = ...)")
    else:
        wanted = [(d.url, d.id, d.name, d.routine) for d in configured]
    if not wanted:
        raise ConfigError(
            "serve needs a device: --device URL (several allowed) or [[devices]] in config.toml"
        )
    plans: list[DevicePlan] = []
    seen: dict[str, str] = {}
    for url, device_id, name, own_routine in wanted:
        model = model_of(url)
        chosen = check_id(device_id) if device_id else default_id(url, model)
        if chosen in seen:
            raise ConfigError(
                f"{seen[chosen]} and {url} would both be {chosen!r} on the broker: "
                "give each its own id (--device-id, or id = in [[devices]])"
            )
        seen[chosen] = url
        plans.append(
            DevicePlan(url=url, model=model, device_id=chosen, name=name, routine=own_routine or routine)
        )
    return plans
