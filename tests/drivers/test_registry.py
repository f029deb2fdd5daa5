"""The device registry is a plug-in point: the simulator plugs in; the controller never imports it."""

from __future__ import annotations

import ast
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

import massager_ctl
from massager_ctl.catalog import Catalog
from massager_ctl.errors import ConfigError
from massager_ctl.openers import LinkSource
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.registry import GROUP, DeviceScheme, DeviceSource, OpenContext, Registry, default_registry
from massager_ctl.urls import DeviceURL, parse_device_url

PACKAGE = Path(massager_ctl.__file__).parent


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.split(".")[0].split(":")[0] == "firmware_sim"
        ):
            # importlib.import_module("firmware_sim...") or an opener named by a dotted string
            found.append((node.lineno, node.value))
    return found


def test_no_controller_module_imports_the_simulator() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, name in _imports(ast.parse(path.read_text(), str(path)))
        if name == "firmware_sim" or name.startswith("firmware_sim.")
    ]
    assert not offenders, "the controller imports the simulator:\n" + "\n".join(offenders)


def test_the_simulator_uses_neither_the_controllers_codecs_nor_its_drivers() -> None:
    # a codec bug must not be able to cancel itself out: the firmware decodes with its own code,
    # and its plug-in hands the controller links, not drivers
    simulator = PACKAGE.parent / "firmware_sim"
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {name}"
        for path in sorted(simulator.rglob("*.py"))
        for line, name in _imports(ast.parse(path.read_text(), str(path)))
        if name.startswith(("massager_ctl.protocol", "massager_ctl.drivers"))
    ]
    assert not offenders, "the simulator imports the controller's codecs or drivers:\n" + "\n".join(offenders)


@pytest.mark.slow
def test_every_controller_module_imports_and_real_urls_open_with_the_simulator_blocked() -> None:
    script = """
import importlib, pkgutil, sys
sys.modules["firmware_sim"] = None  # any import of it now raises ImportError
import massager_ctl
for info in pkgutil.walk_packages(massager_ctl.__path__, prefix="massager_ctl."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
from massager_ctl.errors import ConfigError
from massager_ctl.urls import parse_device_url
assert parse_device_url("serial:///dev/ttyUSB0?model=serial-cushion-z3").target == "/dev/ttyUSB0"
try:
    parse_device_url("sim://pulse-gun-p5")
except ConfigError as e:
    print("refused:", e)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "refused: the sim:// plug-in (firmware_sim.opener:SIM) cannot be loaded" in done.stdout


def test_the_simulator_registers_sim_through_the_entry_point_group() -> None:
    installed = {e.name: e.value for e in entry_points(group=GROUP)}
    assert installed.get("sim") == "firmware_sim.opener:SIM", "reinstall: pip install -e ."
    assert default_registry().get("sim").form.startswith("sim://MODEL")


# -- a plug-in of the test's own, registered the same way ------------------------------------------------

OPENED: list[str] = []


@contextlib.asynccontextmanager
async def _open_loop(url: DeviceURL, context: OpenContext) -> AsyncIterator[DeviceSource]:
    from massager_ctl.transports.virtual import VirtualTransport

    OPENED.append(url.raw)
    profile = context.catalog.device(url.target)
    yield LinkSource(profile, lambda: VirtualTransport(_NoLink(), name=url.raw))


class _NoLink:
    async def send(self, data: bytes) -> None:
        raise ConnectionError("nothing at the other end")

    async def recv(self) -> bytes:
        raise ConnectionError("nothing at the other end")

    async def aclose(self) -> None:
        pass


def _check_loop(url: DeviceURL) -> None:
    if url.options.get("flavour", "plain") != "plain":
        raise ConfigError(f"{url.raw}: only plain loops; expected {LOOP.form}")


LOOP = DeviceScheme(
    name="loop",
    form="loop://MODEL[?flavour=plain&speed=N]",
    options=frozenset({"flavour", "speed"}),
    target="model",
    open=_open_loop,
    target_is_model=True,
    check=_check_loop,
)


def _registry() -> Registry:
    return Registry([*entry_points(group=GROUP), EntryPoint("loop", f"{__name__}:LOOP", GROUP)])


def test_a_plugged_in_scheme_parses_with_its_own_form_options_and_checks() -> None:
    registry = _registry()
    url = parse_device_url("loop://pulse-gun-p5?flavour=plain", registry=registry)
    assert (url.scheme, url.target, url.model) == ("loop", "pulse-gun-p5", "pulse-gun-p5")
    with pytest.raises(ConfigError, match=r"unknown option 'baud' \(options: flavour, speed\)"):
        parse_device_url("loop://pulse-gun-p5?baud=1", registry=registry)
    with pytest.raises(ConfigError, match="only plain loops; expected loop://MODEL"):
        parse_device_url("loop://pulse-gun-p5?flavour=sour", registry=registry)
    with pytest.raises(ConfigError, match="loop://MODEL"):
        parse_device_url("nope://x", registry=registry)


async def test_the_connector_opens_a_plugged_in_scheme_once_and_takes_its_speed_option() -> None:
    OPENED.clear()
    connector = DeviceConnector("loop://pulse-gun-p5?speed=4", catalog=Catalog(), registry=_registry())
    assert connector.speed == 4
    async with connector:
        assert connector.source is not None
        assert connector.source.profile.id == "pulse-gun-p5"
        connector.fit_head("ball")  # a real device: a person fits heads, nothing happens
    assert OPENED == ["loop://pulse-gun-p5?speed=4"]


def test_speed_is_refused_for_a_scheme_without_a_speed_option() -> None:
    with pytest.raises(ConfigError, match="on a simulator only"):
        DeviceConnector("serial:///dev/ttyUSB0?model=serial-cushion-z3", speed=2.0)


def test_a_broken_plug_in_is_a_clear_config_error() -> None:
    registry = Registry([EntryPoint("gone", "no_such_module_anywhere:SCHEME", GROUP)])
    with pytest.raises(ConfigError, match=r"the gone:// plug-in \(no_such_module_anywhere:SCHEME\) cannot"):
        parse_device_url("gone://x", registry=registry)
