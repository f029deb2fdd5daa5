"""``--device manual://MODEL``: an unconnected massager, set by the person as the screen says."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.drivers.manual import ManualConnector, manual_profile
from massager_ctl.errors import ConfigError
from massager_ctl.events import EventBus
from massager_ctl.orchestrator import Session, preflight
from massager_ctl.orchestrator.person import AutoPerson
from massager_ctl.ui.live import LiveView
from tests.foundation.cli_support import Cli, in_process, isolate

CATALOG = Catalog()


@pytest.fixture
def cli_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    isolate(monkeypatch, tmp_path)
    return in_process(capsys)


def test_a_device_routine_runs_under_manual_with_no_device_present(cli_here: Cli, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    result = cli_here(
        "run", "upper-back-massage-gun", "--device", "manual://pulse-gun-p5", "--yes", "--speed", "1000",
        "--events", str(events),
    )  # fmt: skip
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert (lines[0]["device"], lines[0]["model"]) == ("manual://pulse-gun-p5", "pulse-gun-p5")
    assert lines[-1]["status"] == "completed"
    heads = [e["head"] for e in lines if e["type"] == "waiting_for_confirm"]
    assert heads == ["ball", "fork", "bullet", "wedge"]  # every head change waits for the person
    assert "On the massager: set the speed to 2." in result.out
    assert "On the massager: switch the motor off." in result.out
    assert result.out.rstrip().endswith("Switch the massager off now.")
    assert "device:" not in result.out  # nothing reports a state
    history = json.loads(cli_here("history", "--json").out)
    assert history["sessions"][0]["kind"] == "rehearsal"
    assert history["weeks"] == []


def test_heat_is_an_instruction_too(cli_here: Cli) -> None:
    result = cli_here(
        "run",
        "lower-back-heat-cushion",
        "--device",
        "manual://shiatsu-cushion-s3",
        "--yes",
        "--speed",
        "1000",
    )
    assert result.code == 0, result.err
    assert "On the massager: switch the heat to low." in result.out
    assert "switch the heat off" in result.out


def test_every_head_is_fitted_by_hand_under_manual() -> None:
    profile = manual_profile("manual://shiatsu-cushion-s3", CATALOG)
    assert profile.id == "shiatsu-cushion-s3"
    assert {h.change for h in profile.heads} == {"manual"}
    assert not profile.head_detection
    with pytest.raises(ConfigError, match="expected manual://MODEL"):
        manual_profile("manual://", CATALOG)
    with pytest.raises(ConfigError, match="expected manual://MODEL"):
        manual_profile("manual://pulse-gun-p5?x=1", CATALOG)


def test_a_bad_manual_url_is_bad_input(cli_here: Cli) -> None:
    assert cli_here("run", "upper-back-massage-gun", "--device", "manual://", "--yes").code == 2
    assert cli_here("run", "upper-back-massage-gun", "--device", "manual://no-such-gun", "--yes").code == 2


async def test_the_live_view_shows_what_to_set_and_to_switch_it_off() -> None:
    plan = preflight(
        CATALOG.routine("upper-back-massage-gun"), manual_profile("manual://pulse-gun-p5", CATALOG), Caps()
    )
    bus = EventBus()
    connector = ManualConnector(plan.profile, speed=2000.0)
    session = Session(
        plan, connect=connector.connect, device_url="manual://pulse-gun-p5", bus=bus, person=AutoPerson(),
        speed=connector.speed,
    )  # fmt: skip
    view = LiveView(session)
    events = bus.subscribe(maxsize=4096)
    seen: list[str] = []
    await session.run()
    bus.close()
    async for event in events:
        view.update(event)
        if view.instruction:
            seen.append(view.instruction)
    assert "On the massager: set the speed to 3." in seen
    screen = io.StringIO()
    Console(file=screen, width=80, color_system=None).print(view.render())
    assert "Switch the massager off now." in screen.getvalue()
    assert "device: head" not in screen.getvalue()
