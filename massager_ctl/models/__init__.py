"""Pydantic models of the two catalogs: device profiles and routines."""

from massager_ctl.models.device import DeviceProfile, HeadSpec
from massager_ctl.models.routine import PlannedStep, Routine, StepSettings

__all__ = ["DeviceProfile", "HeadSpec", "PlannedStep", "Routine", "StepSettings"]
