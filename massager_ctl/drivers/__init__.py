"""Drivers: the :class:`Driver` interface and the catalog-driven :class:`MassagerDriver`."""

from massager_ctl.drivers.base import DeviceState, Driver, DriverOptions, Identity
from massager_ctl.drivers.massager import MassagerDriver

__all__ = ["DeviceState", "Driver", "DriverOptions", "Identity", "MassagerDriver"]
