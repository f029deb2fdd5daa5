"""A simulated massager firmware and its links: the stand-in for hardware in tests and demos.

It implements ``docs/protocols.md`` on its own, like a separate vendor would, and reads only the device
catalog from ``massager_ctl``. See ``docs/simulator.md``.
"""

from firmware_sim.device import SimulatedDevice
from firmware_sim.faults import FaultSpec
from firmware_sim.firmware import Firmware, FirmwareBugError, FirmwareState
from firmware_sim.link import VirtualLink

__all__ = ["FaultSpec", "Firmware", "FirmwareBugError", "FirmwareState", "SimulatedDevice", "VirtualLink"]
