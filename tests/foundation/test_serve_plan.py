"""Which devices ``serve`` keeps: ``--device`` options, else ``[[devices]]`` in config.toml."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from massager_ctl.cli.serve_plan import DevicePlan, plan_devices
from massager_ctl.config import ServedDevice, load_settings
from massager_ctl.errors import ConfigError
from massager_ctl.mqtt.topics import check_device_id, device_id_from_url
from tests.foundation.cli_support import Cli


def plan(
    urls: Sequence[str] = (),
    ids: Sequence[str] = (),
    configured: Sequence[ServedDevice] = (),
    routine: str | None = None,
) -> list[DevicePlan]:
    return plan_devices(
        urls=urls,
        ids=ids,
        configured=configured,
        routine=routine,
        model_of=lambda url: url.split("://", 1)[1].split("?")[0],
        default_id=device_id_from_url,
        check_id=check_device_id,
    )


def test_several_devices_pair_with_their_ids_in_order() -> None:
    plans = plan(["sim://pulse-gun-p5", "sim://bed-base-b2"], ["gun", "bed"], routine="desk-break")
    assert [(p.url, p.model, p.device_id, p.routine) for p in plans] == [
        ("sim://pulse-gun-p5", "pulse-gun-p5", "gun", "desk-break"),
        ("sim://bed-base-b2", "bed-base-b2", "bed", "desk-break"),
    ]


def test_two_devices_that_would_share_an_id_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"would both be 'pulse-gun-p5-sim'.*--device-id"):
        plan(["sim://pulse-gun-p5", "sim://pulse-gun-p5"])
    with pytest.raises(ConfigError, match="would both be 'a'"):
        plan(["sim://pulse-gun-p5", "sim://bed-base-b2"], ["a", "a"])


def test_ids_must_pair_and_be_valid() -> None:
    with pytest.raises(ConfigError, match="1 --device-id for 2 --device"):
        plan(["sim://pulse-gun-p5", "sim://bed-base-b2"], ["a"])
    with pytest.raises(ConfigError, match="--device-id needs a --device"):
        plan(ids=["a"], configured=[ServedDevice(url="sim://bed-base-b2")])
    with pytest.raises(ConfigError, match="Home Assistant's rule"):
        plan(["sim://pulse-gun-p5"], ["no/slash"])
    with pytest.raises(ConfigError, match="serve needs a device"):
        plan()


def test_config_devices_are_used_without_device_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    monkeypatch.setenv("MASSAGER_CONFIG", str(config))
    config.write_text(
        'controller_id = "spa-1"\n'
        '[[devices]]\nurl = "sim://pulse-gun-p5"\nid = "gun"\nname = "Room 1 gun"\n'
        '[[devices]]\nurl = "sim://bed-base-b2"\nroutine = "desk-break"\n'
    )
    settings = load_settings()
    assert settings.controller_id == "spa-1"
    plans = plan(configured=settings.devices, routine="other")
    assert [(p.device_id, p.name, p.routine) for p in plans] == [
        ("gun", "Room 1 gun", "other"),
        ("bed-base-b2-sim", None, "desk-break"),
    ]
    # --device wins over the file
    assert [p.device_id for p in plan(["sim://bed-base-b2"], configured=settings.devices)] == [
        "bed-base-b2-sim"
    ]


def test_a_devices_table_with_an_unknown_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    monkeypatch.setenv("MASSAGER_CONFIG", str(config))
    config.write_text('[[devices]]\nurl = "sim://pulse-gun-p5"\nadress = "x"\n')
    with pytest.raises(ConfigError, match=r"devices\.0\.adress"):
        load_settings()


def test_serve_refuses_bad_device_lists_before_connecting_anything(cli: Cli) -> None:
    two = ["--device", "sim://pulse-gun-p5", "--device", "sim://pulse-gun-p5"]
    shared = cli("serve", "--mqtt", "mqtt://127.0.0.1:1", *two)
    assert shared.code == 2
    assert "would both be 'pulse-gun-p5-sim'" in shared.err
    paired = [*two[:2], "--device-id", "a", *two[2:], "--device-id", "b"]
    web = cli("serve", "--http", "127.0.0.1:1", *paired)
    assert web.code == 2
    assert (
        web.err.strip() == "--http serves one device's page: give one --device (several devices: use --mqtt)"
    )
    none = cli("serve", "--mqtt", "mqtt://127.0.0.1:1")
    assert none.code == 2
    assert "serve needs a device" in none.err
