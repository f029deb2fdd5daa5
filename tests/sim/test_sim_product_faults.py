"""Product fault options as ``massager-sim serve --faults`` takes them."""

from __future__ import annotations

import pytest

from firmware_sim.families import ProductFaults, firmware_for
from massager_ctl.catalog import Catalog
from massager_ctl.errors import ConfigError


def test_fault_text_parses_into_product_faults() -> None:
    assert ProductFaults.parse("") == ProductFaults()
    assert ProductFaults.parse("refuse_connection=1, bad_checksum_every=4") == ProductFaults(
        refuse_connection=True, bad_checksum_every=4
    )
    assert ProductFaults.parse("stale_checksum_every=3").stale_checksum_every == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("drop_link_at=5", "unknown product fault 'drop_link_at'"),
        ("bad_checksum_every=often", "give a whole number"),
        ("bad_checksum_every=-1", "give a whole number"),
    ],
)
def test_bad_fault_text_is_a_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ProductFaults.parse(text)


def test_reference_models_have_no_product_firmware() -> None:
    with pytest.raises(ConfigError, match="protocol mbin is not a real-product family"):
        firmware_for(Catalog().device("pulse-gun-p5"))


async def test_a_second_link_is_refused_while_one_is_up() -> None:
    async with firmware_for(Catalog().device("reverie-base")) as base:
        first: list[bytes] = []
        second: list[bytes] = []
        base.connect(first.append)
        with pytest.raises(ConnectionRefusedError, match="one connection at a time"):
            base.connect(second.append)
        base.connect(first.append)  # the same link announcing itself again is not a second link
        base.disconnect(first.append)
        base.connect(second.append)
        assert base.connected
