"""Which firmware model simulates which catalog protocol family."""

from __future__ import annotations

from collections.abc import Callable

from firmware_sim.families.core import Machine, MachineIO, ProductFaults, ProductFirmware
from firmware_sim.families.keeson import KeesonMachine
from firmware_sim.families.reverie import ReverieMachine
from firmware_sim.families.richmat import RichmatMachine
from firmware_sim.families.rongtai import ChairMachine
from firmware_sim.families.theragun import TheragunMachine
from massager_ctl.errors import ConfigError
from massager_ctl.models import DeviceProfile

FAMILIES: dict[str, Callable[[MachineIO], Machine]] = {
    "keeson": KeesonMachine,
    "reverie": ReverieMachine,
    "theragun": TheragunMachine,
    "rongtai": ChairMachine,
    "richmat": RichmatMachine,
}


def firmware_for(
    profile: DeviceProfile, *, speed: float = 1.0, faults: ProductFaults | None = None
) -> ProductFirmware:
    """The simulated firmware of a real product's catalog model.

    Raises:
        ConfigError: the model's protocol family has no product firmware here.
    """
    build = FAMILIES.get(profile.protocol.family)
    if build is None:
        raise ConfigError(f"{profile.id}: protocol {profile.protocol.family} is not a real-product family")
    return ProductFirmware(profile.id, build, speed=speed, faults=faults)
