"""Firmware models of real products whose wire protocols are publicly reverse-engineered.

Each family has its own codec (``*_wire``), written from the public facts in ``docs/devices/`` and
independent of the controller's codecs.
"""
