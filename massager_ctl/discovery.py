"""Which catalog model an advertisement is: by advertised name pattern and service UUID, with a confidence.

Real products give two clues. The local name follows a pattern per product (``base-i4.XXXX``
for a Serta base, ``Pro`` for a Theragun PRO); the advertised service UUID says which GATT
layout is behind it, but several products share one (the three Theragun models all advertise
``0xFFE0``), and some publish no name pattern at all (Richmat WiLinke). So:

- ``high``: the name matches the model's pattern and the model's service UUID is advertised;
- ``medium``: only one clue: the name matches and no service UUID is advertised, or the
  service UUID belongs to this one model and the name matches none;
- ``low``: the clues disagree (the name matches but the advertised UUIDs are another
  model's), or the UUID is shared by several models and no name tells them apart; the
  model is then unnamed and the candidates are listed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from massager_ctl.models import DeviceProfile

MatchConfidence = Literal["high", "medium", "low"]


@dataclass(frozen=True, slots=True)
class Recognition:
    """What an advertisement was recognised as.

    Attributes:
        profile: the model (``None`` when several fit equally; see ``candidates``).
        candidates: every model that fits, best first.
        confidence: how sure the match is (see the module docs).
        matched_by: the clues that matched, for people (``name and service UUID``).
    """

    profile: DeviceProfile | None
    candidates: tuple[DeviceProfile, ...]
    confidence: MatchConfidence
    matched_by: str

    @property
    def protocol(self) -> str | None:
        """The protocol family, when every candidate speaks the same one."""
        families = {p.protocol.family for p in self.candidates}
        return families.pop() if len(families) == 1 else None


def _name_fits(profile: DeviceProfile, name: str | None) -> bool:
    pattern = profile.ble.local_name if profile.ble is not None else ""
    return bool(name and pattern and fnmatch.fnmatchcase(name, pattern))


def recognise_advertisement(
    profiles: Iterable[DeviceProfile], name: str | None, service_uuids: Sequence[str]
) -> Recognition | None:
    """The catalog model an advertisement's local name and service UUIDs point to (``None``: none)."""
    ble_models = [p for p in profiles if p.ble is not None]
    advertised = {u.lower() for u in service_uuids}
    by_uuid = [p for p in ble_models if p.ble is not None and p.ble.service_uuid.lower() in advertised]
    named = [p for p in ble_models if _name_fits(p, name)]
    if named:
        both = [p for p in named if p in by_uuid]
        if both:
            return Recognition(both[0], tuple(both), "high", "name and service UUID")
        if not advertised:
            return Recognition(named[0], tuple(named), "medium", "name (no service UUID advertised)")
        return Recognition(named[0], tuple(named), "low", "name, but another model's service UUID")
    if len(by_uuid) == 1:
        return Recognition(by_uuid[0], (by_uuid[0],), "medium", "service UUID")
    if by_uuid:
        return Recognition(None, tuple(by_uuid), "low", f"service UUID shared by {len(by_uuid)} models")
    return None
