"""Firmware models of real products whose wire protocols are publicly reverse-engineered.

Each family has its own codec (``*_wire``), written from the public facts in ``docs/devices/`` and
independent of the controller's codecs, and a firmware model (``keeson``, ``reverie``, ...) with the
product's quirks: latched massage with its own countdown, continuous or on-change status, silence.
:func:`firmware_for` picks the model for a catalog profile.
"""

from firmware_sim.families.core import ProductFaults, ProductFirmware
from firmware_sim.families.registry import FAMILIES, firmware_for

__all__ = ["FAMILIES", "ProductFaults", "ProductFirmware", "firmware_for"]
