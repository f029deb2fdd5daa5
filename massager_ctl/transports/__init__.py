"""Byte links to devices: serial (pyserial), BLE (bleak) and the simulator's in-memory link."""

from massager_ctl.transports.base import Transport

__all__ = ["Transport"]
