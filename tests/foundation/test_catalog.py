"""The shipped catalogs validate, and user folders add to and override them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from massager_ctl.catalog import Catalog, builtin_dir
from massager_ctl.cli.catalog import routine_json_schema
from massager_ctl.errors import CatalogError, ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_every_shipped_model_validates() -> None:
    devices = Catalog().devices()
    assert len(devices) >= 3
    assert {p.transport for p in devices.values()} == {"ble", "serial"}
    assert len({p.protocol.family for p in devices.values()}) >= 2
    for profile in devices.values():
        if profile.kind == "reference":
            assert profile.failsafe.type == "watchdog"
            assert profile.watchdog.timeout_s <= 3.0
        if profile.heat:
            assert 15 * 60 <= profile.heat.max_on_s <= 20 * 60


def test_every_shipped_routine_validates() -> None:
    routines = Catalog().routines()
    assert len(routines) >= 10
    for routine in routines.values():
        assert routine.plan()
        assert routine.safety, f"{routine.id} has no safety notes"


def test_file_names_match_ids() -> None:
    for kind in ("devices", "routines"):
        for path in builtin_dir(kind).glob("*.yaml"):
            assert path.read_text(encoding="utf-8").count(f"id: {path.stem}\n") >= 1, path


def test_user_file_with_a_builtin_id_wins(tmp_path: Path) -> None:
    builtin = (builtin_dir("devices") / "pulse-gun-p5.yaml").read_text(encoding="utf-8")
    (tmp_path / "mine.yaml").write_text(builtin.replace("name: Pulse P5 massage gun", "name: My gun"))
    catalog = Catalog(device_dirs=[tmp_path])
    assert catalog.device("pulse-gun-p5").name == "My gun"
    assert len(catalog.devices()) == len(Catalog().devices())


def test_user_routine_is_added(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "id: mine\ntitle: Mine\nsummary: s\nareas: [a]\ntools: [hands]\n"
        "steps:\n  - {title: t, duration: 30, prompt: {text: go}}\n"
    )
    catalog = Catalog(routine_dirs=[tmp_path])
    assert catalog.routine("mine").title == "Mine"


def test_broken_user_file_is_reported_not_ignored(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("id: bad\n")
    with pytest.raises(CatalogError, match=r"bad\.yaml:1: title: Field required"):
        Catalog(routine_dirs=[tmp_path]).routines()


def test_unknown_ids_list_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown model 'nope'; known models: .*pulse-gun-p5"):
        Catalog().device("nope")
    with pytest.raises(ConfigError, match="unknown routine 'nope'"):
        Catalog().routine("nope")
    with pytest.raises(ConfigError, match="does not exist"):
        Catalog().routine("missing.yaml")


def test_published_schema_is_current() -> None:
    published = json.loads((ROOT / "docs" / "routine.schema.json").read_text(encoding="utf-8"))
    assert published == routine_json_schema(), "run: massager-ctl routines schema > docs/routine.schema.json"


def test_fraction_maps_to_levels() -> None:
    gun = Catalog().device("pulse-gun-p5").intensity
    assert [gun.level_for(f) for f in (0.0, 0.01, 0.2, 0.5, 0.8, 1.0)] == [0, 1, 1, 2, 4, 5]
    assert gun.level_for(9) == 5
    assert gun.level_for(3) == 3
