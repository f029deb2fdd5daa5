"""The bedtime routine for a bed base runs whole on the product simulators, ending stopped as they report.

In virtual time (looptime) over the Bumble radio: Reverie (absolute levels) and Richmat (open loop: the
stop sent, not confirmed by this model, and not a failure). Keeson's run, its timer armed, is in
``test_every_product.py`` with its wire log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_sim.opener import ServedProduct
from massager_ctl.config import Caps
from massager_ctl.events import EventBus
from massager_ctl.orchestrator import Session, SessionResult, preflight
from massager_ctl.orchestrator.device import DeviceConnector
from massager_ctl.orchestrator.person import AutoPerson
from tests.foundation.cli_support import isolate
from tests.foundation.test_real_catalog import run_cli
from tests.orchestrator.orch_support import CATALOG
from tests.virtual_time import IN_MEMORY

ROUTINE = "bed-base-bedtime"


async def run_on(model: str) -> tuple[SessionResult, object, list[bytes]]:
    plan = preflight(CATALOG.routine(ROUTINE), CATALOG.device(model), Caps())
    assert not plan.problems
    url = f"sim://{model}"
    async with DeviceConnector(url, catalog=CATALOG) as connector:
        source = connector.source
        assert isinstance(source, ServedProduct)
        session = Session(
            plan, connect=connector.connect, device_url=url, bus=EventBus(), person=AutoPerson()
        )
        result = await session.run()
        return result, source.firmware.state, list(source.firmware.received)


@IN_MEMORY
async def test_bedtime_on_a_reverie_base_completes_stopped() -> None:
    result, state, received = await run_on("reverie-base")
    assert result.status == "completed"
    assert result.device_safe
    assert (state.head_massage, state.foot_massage) == (0, 0)  # type: ignore[attr-defined]
    assert received[-1] == bytes.fromhex("553560")


@IN_MEMORY
async def test_bedtime_on_a_richmat_base_ends_with_the_stop_sent_not_confirmed() -> None:
    result, state, received = await run_on("richmat-wilinke-base")
    assert result.status == "completed", result.reason  # not a failure
    assert not result.device_safe  # and not confirmed
    assert result.stop == "sent_unconfirmed"
    assert "stop sent, not confirmed by this model" in result.reason
    assert not state.massage_on  # type: ignore[attr-defined]
    head_off, foot_off = bytes.fromhex("6e01009807"), bytes.fromhex("6e01009c0b")
    assert received[-6:] == [head_off, foot_off] * 3  # sent several times


BED_BASES = ["keeson-base-i4", "keeson-base-i5", "reverie-base", "richmat-wilinke-base"]


@pytest.mark.parametrize("model", BED_BASES)
def test_bedtime_passes_preflight_on_the_bed_bases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], model: str
) -> None:
    isolate(monkeypatch, tmp_path)
    code, _, err = run_cli(capsys, "routines", "check", ROUTINE, "--model", model)
    assert code == 0, err


@pytest.mark.parametrize(
    ("model", "says"),
    [
        ("richmat-wilinke-base", "Note: stop sent, not confirmed by this model."),
        ("reverie-base", ""),
    ],
)
@pytest.mark.usefixtures("cli_in_virtual_time")
def test_run_bedtime_on_the_simulators_exits_0_and_says_how_the_stop_is_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], model: str, says: str
) -> None:
    isolate(monkeypatch, tmp_path)
    code, _, err = run_cli(capsys, "run", ROUTINE, "--device", f"sim://{model}", "--speed", "600", "--yes")
    assert code == 0, err
    assert says in err
    assert "WARNING" not in err
