"""``devices scan`` recognises the real products by their advertised names and service UUIDs.

Each product's simulator advertises on the Bumble virtual radio as the product does (its name
pattern filled in with a unit code, its real service UUID); the scan runs through its Python
entry point with that radio's scanner backend injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import AsyncIterator

import pytest

from firmware_sim.ble import BleProfile, BleSimulator
from firmware_sim.families import firmware_for
from massager_ctl.catalog import Catalog
from massager_ctl.cli.devices_live import Found, scan
from massager_ctl.discovery import recognise_advertisement

CATALOG = Catalog()
BLE_PRODUCTS = sorted(
    p.id for p in CATALOG.devices().values() if p.kind == "product" and p.transport == "ble"
)
THERAGUN_SERVICE = "0000ffe0-0000-1000-8000-00805f9b34fb"
KEESON_SERVICE = "0000ffe5-0000-1000-8000-00805f9b34fb"


@contextlib.asynccontextmanager
async def advertised(model: str, *, hci_port: int | None = None) -> AsyncIterator[BleSimulator]:
    profile = CATALOG.device(model)
    assert profile.ble is not None
    async with firmware_for(profile) as firmware:
        ble = BleProfile.for_product(model, profile.ble.model_dump(), serial="A1B2C3D4")
        async with BleSimulator(firmware, ble, hci_port=hci_port) as radio:
            yield radio


def test_every_ble_product_is_covered() -> None:
    assert {"keeson-base-i4", "keeson-base-i5", "reverie-base", "richmat-wilinke-base"} <= set(BLE_PRODUCTS)
    assert {"theragun-pro-4", "theragun-elite-4", "theragun-prime-4"} <= set(BLE_PRODUCTS)


@pytest.mark.looptime  # the radio is in memory: the scan's window passes in virtual time
@pytest.mark.parametrize("model", BLE_PRODUCTS)
async def test_scan_names_each_simulated_product_with_protocol_and_confidence(model: str) -> None:
    profile = CATALOG.device(model)
    assert profile.ble is not None
    warnings: list[str] = []
    async with advertised(model) as radio:
        found = await scan(
            CATALOG, scan_s=1.0, hci=None, warn=warnings.append, scanner_backend=radio.central.scanner_backend
        )
    ble_found = [f for f in found if f.transport == "ble"]
    assert warnings == []
    assert len(ble_found) == 1, ble_found
    seen = ble_found[0]
    assert seen.url == f"ble://{radio.address}?model={model}"
    assert seen.model == model
    assert seen.kind == "product"
    assert seen.protocol == profile.protocol.family
    assert seen.protocol_confidence == profile.confidence
    if profile.ble.local_name:  # a product with a published name pattern advertises it
        assert seen.name == radio.profile.local_name
        assert seen.confidence == "high"
        assert seen.matched_by == "name and service UUID"
    else:  # Richmat: no published name, recognised by its own service UUID only
        assert seen.confidence == "medium"
        assert seen.matched_by == "service UUID"


def test_a_theragun_without_its_name_is_only_a_theragun() -> None:
    found = recognise_advertisement(CATALOG.devices().values(), None, [THERAGUN_SERVICE.upper()])
    assert found is not None
    assert found.profile is None
    assert found.confidence == "low"
    assert found.protocol == "theragun"
    assert {p.id for p in found.candidates} == {"theragun-pro-4", "theragun-elite-4", "theragun-prime-4"}


def test_a_name_without_uuids_is_medium_and_a_contradicting_uuid_is_low() -> None:
    models = CATALOG.devices().values()
    named = recognise_advertisement(models, "base-i5.0042", [])
    assert named is not None
    assert named.profile is not None
    assert (named.profile.id, named.confidence) == ("keeson-base-i5", "medium")
    wrong = recognise_advertisement(models, "Elite", [KEESON_SERVICE])
    assert wrong is not None
    assert wrong.profile is not None
    assert (wrong.profile.id, wrong.confidence) == ("theragun-elite-4", "low")
    assert recognise_advertisement(models, "Some speaker", ["0000180f-0000-1000-8000-00805f9b34fb"]) is None


@pytest.mark.slow
async def test_the_scan_command_shows_a_product_in_the_table_and_in_json() -> None:
    env = {**os.environ, "MASSAGER_CONFIG": "/nonexistent/config.toml", "XDG_CONFIG_HOME": "/nonexistent"}

    async def cli(radio: BleSimulator, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "massager_ctl", "devices", "scan", "--timeout", "1",
            "--hci", radio.hci_transport, *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        return out.decode()

    async with advertised("keeson-base-i4", hci_port=0) as radio:
        table = await cli(radio)
        listed = json.loads(await cli(radio, "--json"))
    row = next(line for line in table.splitlines() if line.startswith("ble://"))
    assert "keeson-base-i4, protocol keeson, match high by name and service UUID" in row
    assert "protocol facts high" in row
    entry = next(e for e in listed if e["transport"] == "ble")
    assert {k: entry[k] for k in ("model", "kind", "protocol", "confidence", "name")} == {
        "model": "keeson-base-i4",
        "kind": "product",
        "protocol": "keeson",
        "confidence": "high",
        "name": radio.profile.local_name,
    }
    assert set(entry) == {f.name for f in dataclasses.fields(Found)}
