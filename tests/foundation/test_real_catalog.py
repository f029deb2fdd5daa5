"""The real-product catalog: its new fields and its shipped files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from massager_ctl.catalog import Catalog, builtin_dir, load_device
from massager_ctl.cli import main
from massager_ctl.errors import CatalogError, ConfigError
from massager_ctl.models.device import DeviceTimerFailsafe
from massager_ctl.openers import model_for_advertisement
from tests.foundation.cli_support import isolate

CATALOG = Catalog()
PRODUCTS = {p.id: p for p in CATALOG.devices().values() if p.kind == "product"}


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process CLI with no user config from the machine running the tests."""
    isolate(monkeypatch, tmp_path)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
    except SystemExit as e:
        code = int(e.code or 0)
    else:
        code = 0
    out, err = capsys.readouterr()
    return code, out, err


def test_each_real_family_has_a_product_model() -> None:
    families = {p.protocol.family for p in PRODUCTS.values()}
    assert families == {"keeson", "reverie", "theragun", "rongtai", "richmat"}
    assert PRODUCTS["keeson-base-i4"].ble is not None
    assert PRODUCTS["keeson-base-i4"].ble.local_name == "base-i4.*"
    assert PRODUCTS["keeson-base-i5"].products == ["Purple Smart Base"]
    assert {"theragun-pro-4", "theragun-elite-4", "theragun-prime-4"} <= set(PRODUCTS)


def test_reference_models_stay_reference_with_their_watchdog() -> None:
    for model in ("pulse-gun-p5", "shiatsu-cushion-s3", "serial-cushion-z3"):
        profile = CATALOG.device(model)
        assert profile.kind == "reference"
        assert profile.failsafe.type == "watchdog"
        assert profile.control_for("intensity").style == "absolute"


@pytest.mark.parametrize("model", sorted(PRODUCTS))
def test_product_models_are_honest_about_what_they_know(model: str) -> None:
    profile = PRODUCTS[model]
    assert profile.sources, "a product names its public sources"
    assert all(s.licence for s in profile.sources)
    assert profile.confidence != "high" or profile.protocol.family == "keeson"
    assert profile.watchdog_spec is None
    with pytest.raises(ConfigError, match="has no watchdog"):
        _ = profile.watchdog
    feedback = profile.ble is None or profile.ble.notify_uuid is not None
    confirmations = {profile.control_for(c).confirmation for c in ("intensity", "stop")}
    assert ("none" in confirmations) == (not feedback)


def test_device_timer_picks_the_shortest_value_that_covers_what_is_left() -> None:
    failsafe = PRODUCTS["keeson-base-i4"].failsafe
    assert isinstance(failsafe, DeviceTimerFailsafe)
    assert [failsafe.covering(s) for s in (1, 600, 601, 1500, 5000)] == [600, 600, 1200, 1800, 1800]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("sources:\n", "sources: []\nx_sources:\n"), "Extra inputs"),
        (
            (
                "  intensity: {style: steps, confirmation: status}",
                "  intensity: {style: steps, confirmation: none}",
            ),
            "needs the status to confirm",
        ),
        (("  timer_s: [600, 1200, 1800]", "  timer_s: [1800, 600]"), "shortest first"),
    ],
)
def test_bad_product_files_are_refused_with_their_line(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    text = (builtin_dir("devices") / "keeson-base-i4.yaml").read_text(encoding="utf-8")
    assert edit[0] in text
    path = _write(tmp_path, "bad.yaml", text.replace(edit[0], edit[1], 1))
    with pytest.raises(CatalogError, match=message) as info:
        load_device(path)
    assert all(p.file == str(path) and p.line >= 1 for p in info.value.problems)


def test_a_watchdog_fail_safe_needs_a_watchdog(tmp_path: Path) -> None:
    data = yaml.safe_load((builtin_dir("devices") / "keeson-base-i4.yaml").read_text(encoding="utf-8"))
    data["failsafe"] = {"type": "watchdog"}
    path = _write(tmp_path, "wd.yaml", yaml.safe_dump(data))
    with pytest.raises(CatalogError, match="needs a 'watchdog' section"):
        load_device(path)


def test_a_product_without_sources_is_refused(tmp_path: Path) -> None:
    text = (builtin_dir("devices") / "richmat-wilinke-base.yaml").read_text(encoding="utf-8")
    start, end = text.index("sources:\n"), text.index("transport:")
    path = _write(tmp_path, "nosrc.yaml", text[:start] + text[end:])
    with pytest.raises(CatalogError, match="names its public sources"):
        load_device(path)


def test_devices_list_json_gives_kind_protocol_confidence_failsafe_and_sources(
    isolated: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "devices", "list", "--json")
    assert code == 0, err
    devices = {d["id"]: d for d in json.loads(out)}
    assert set(devices) == set(CATALOG.devices())
    for entry in devices.values():
        assert {"kind", "protocol", "confidence", "failsafe", "sources"} <= entry.keys()
    i4 = devices["keeson-base-i4"]
    assert (i4["kind"], i4["protocol"], i4["confidence"]) == ("product", "keeson", "high")
    assert i4["failsafe"]["type"] == "device-timer"
    assert i4["failsafe"]["timer_s"] == [600, 1200, 1800]
    assert {
        "repo": "kristofferR/ha-adjustable-bed",
        "path": "docs/beds/keeson.md",
        "licence": "MIT",
    }.items() <= (i4["sources"][0].items())
    assert i4["control"]["intensity"] == {"style": "steps", "confirmation": "status"}
    assert devices["richmat-wilinke-base"]["failsafe"]["type"] == "none"
    gun = devices["pulse-gun-p5"]
    assert (gun["kind"], gun["protocol"]) == ("reference", "mbin")
    assert gun["failsafe"] == {"type": "watchdog", "timeout_s": 2.0, "keepalive_s": 0.5}
    assert gun["watchdog_timeout_s"] == 2.0
    assert devices["theragun-pro-4"]["watchdog_timeout_s"] is None


def test_devices_list_table_shows_each_fail_safe(
    isolated: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    code, out, err = run_cli(capsys, "devices", "list")
    assert code == 0, err
    assert "watchdog 2 s" in out
    assert "device timer 10/20/30 min" in out


def test_advertisements_name_the_product_model() -> None:
    profiles = list(CATALOG.devices().values())
    found = model_for_advertisement(profiles, "base-i4.A1B2C3D4", ["0000ffe5-0000-1000-8000-00805f9b34fb"])
    assert found is not None
    assert found.id == "keeson-base-i4"
    found = model_for_advertisement(profiles, None, ["8EBD4F76-DA9D-4B5A-A96E-8EBFBEB622E7"])
    assert found is not None
    assert found.id == "richmat-wilinke-base"
    found = model_for_advertisement(profiles, "Elite", [])
    assert found is not None
    assert found.id == "theragun-elite-4"
