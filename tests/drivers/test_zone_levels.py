"""ZoneLevels: a bed base's two massage zones as one chosen zone at one intensity."""

from __future__ import annotations

import pytest

from massager_ctl.catalog import Catalog
from massager_ctl.drivers.zones import FOOT, HEAD, ZoneLevels
from massager_ctl.protocol.messages import StatusReport

BASES = ["keeson-base-i4", "reverie-base", "richmat-wilinke-base"]


@pytest.mark.parametrize("model", BASES)
def test_the_models_default_head_is_the_zone_chosen_at_first(catalog: Catalog, model: str) -> None:
    profile = catalog.device(model)
    zones = ZoneLevels(profile)
    default = profile.head(profile.default_head)
    assert default is not None
    assert zones.zone == default.code
    assert (zones.head, zones.foot, zones.level, zones.mode) == (0, 0, 0, 0)


def test_a_profile_whose_default_is_the_foot_starts_on_the_foot(catalog: Catalog) -> None:
    profile = catalog.device("keeson-base-i4").model_copy(update={"default_head": "foot"})
    assert ZoneLevels(profile).zone == FOOT


def test_the_status_is_the_chosen_zone_at_the_higher_level(catalog: Catalog) -> None:
    zones = ZoneLevels(catalog.device("reverie-base"))
    zones.mode = 2
    zones.choose(FOOT)
    zones.update(2, 5)
    assert zones.status() == StatusReport(
        motor=True, head=FOOT, intensity=5, heat=0, mode=2, temperature_c=0.0
    )
    zones.update(0, 0)
    assert zones.status() == StatusReport(
        motor=False, head=FOOT, intensity=0, heat=0, mode=2, temperature_c=0.0
    )


def test_a_single_running_zone_becomes_the_chosen_one_and_two_leave_the_choice(catalog: Catalog) -> None:
    zones = ZoneLevels(catalog.device("keeson-base-i4"))
    assert zones.zone == HEAD
    zones.update(0, 3)  # moved from the base's own remote
    assert zones.zone == FOOT
    zones.update(2, 3)  # a zone change half done: the choice stays where it was
    assert zones.zone == FOOT
    zones.choose(HEAD)
    zones.update(4, 1)
    assert zones.zone == HEAD
    zones.update(0, 0)  # nothing runs: the choice is kept for the next level
    assert zones.zone == HEAD


def test_levels_with_one_zone_moved_change_nothing_until_taken(catalog: Catalog) -> None:
    zones = ZoneLevels(catalog.device("keeson-base-i4"))
    zones.update(2, 1)
    assert zones.levels_with(HEAD, 3) == (3, 1)
    assert zones.levels_with(FOOT, 0) == (2, 0)
    assert (zones.head, zones.foot) == (2, 1)
    assert (zones.level_of(HEAD), zones.level_of(FOOT)) == (2, 1)


def test_choose_returns_the_zone_chosen_before(catalog: Catalog) -> None:
    zones = ZoneLevels(catalog.device("richmat-wilinke-base"))
    first = zones.zone
    assert zones.choose(FOOT) == first
    assert zones.choose(HEAD) == FOOT
    assert zones.zone == HEAD
