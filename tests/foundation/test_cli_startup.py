"""Start-up imports only what a command uses: a check on module names, not on the clock.

The time itself is measured by ``bench/startup.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DEVICE_AND_MQTT = ("aiomqtt", "paho", "bleak", "serial", "serial_asyncio_fast", "bumble", "firmware_sim")


def imported(tmp_path: Path, *args: str) -> set[str]:
    """Every module ``python -m massager_ctl ARGS`` imports (from ``-X importtime``)."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_DATA_HOME": str(tmp_path / "d")}
    env.pop("MASSAGER_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "massager_ctl", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert lines, "no -X importtime output"
    return {line.rsplit("|", 1)[1].strip() for line in lines}


def loaded(modules: set[str], *packages: str) -> set[str]:
    return {m for m in modules if m.split(".")[0] in packages or any(m.startswith(p + ".") for p in packages)}


@pytest.mark.slow
def test_help_loads_no_device_mqtt_catalog_or_version_code(tmp_path: Path) -> None:
    modules = imported(tmp_path, "--help")
    assert loaded(modules, *DEVICE_AND_MQTT) == set()
    assert loaded(modules, "massager_ctl.mqtt", "massager_ctl.catalog", "massager_ctl.orchestrator") == set()
    assert loaded(modules, "yaml", "importlib.metadata") == set()


@pytest.mark.slow
@pytest.mark.parametrize(
    "args", [("devices", "list"), ("routines", "list"), ("routines", "show", "desk-break")]
)
def test_catalog_commands_load_no_device_or_mqtt_code(tmp_path: Path, args: tuple[str, ...]) -> None:
    modules = imported(tmp_path, *args)
    assert "massager_ctl.catalog" in modules
    assert loaded(modules, *DEVICE_AND_MQTT) == set()
    assert loaded(modules, "massager_ctl.mqtt", "massager_ctl.drivers", "massager_ctl.transports") == set()


@pytest.mark.slow
def test_fleet_help_loads_no_mqtt_code(tmp_path: Path) -> None:
    modules = imported(tmp_path, "fleet", "--help")
    assert "massager_ctl.cli.fleet_cmd" in modules
    assert loaded(modules, *DEVICE_AND_MQTT) == set()
    assert loaded(modules, "massager_ctl.mqtt", "massager_ctl.fleet") == set()
