"""What the live view draws: a failed connect is no "Relax", messages go, the end is a summary."""

from __future__ import annotations

import io

from rich.console import Console

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.drivers.nodevice import NO_DEVICE, NoDeviceConnector
from massager_ctl.errors import ConnectError
from massager_ctl.events import EventBus
from massager_ctl.orchestrator import Session, preflight
from massager_ctl.orchestrator.dryrun import simulate
from massager_ctl.ui.keys import HELP
from massager_ctl.ui.live import LiveView
from massager_ctl.ui.timefmt import clock

CATALOG = Catalog()


def draw(view: LiveView) -> str:
    screen = io.StringIO()
    Console(file=screen, width=80, height=24, color_system=None).print(view.render())
    return screen.getvalue()


async def run_with_view(session: Session, bus: EventBus) -> LiveView:
    view = LiveView(session)
    events = bus.subscribe(maxsize=4096)
    await session.run()
    bus.close()
    async for event in events:
        view.update(event)
    return view


async def test_a_failed_connect_is_a_summary_not_relax() -> None:
    plan = preflight(CATALOG.routine("desk-break"), CATALOG.device("pulse-gun-p5"), Caps())

    async def fails() -> NoDeviceConnector:
        raise ConnectError("cannot open the link")

    bus = EventBus()
    session = Session(plan, connect=fails, device_url="sim://pulse-gun-p5", bus=bus)  # type: ignore[arg-type]
    view = LiveView(session)
    assert "Relax" not in draw(view)  # before anything started
    view = await run_with_view(session, bus)
    screen = draw(view)
    assert "Relax" not in screen
    assert "Session failed" in screen
    assert "cannot open the link" in screen
    assert HELP in screen


async def test_the_end_summary_of_a_prompt_only_session() -> None:
    plan = preflight(CATALOG.routine("desk-break"), NO_DEVICE, Caps())
    bus = EventBus()
    connector = NoDeviceConnector(speed=2000.0)
    session = Session(plan, connect=connector.connect, device_url="no device", bus=bus, speed=connector.speed)
    view = await run_with_view(session, bus)
    screen = draw(view)
    steps = len(plan.steps)
    assert "Session completed" in screen
    assert f"steps done {steps}/{steps}" in screen
    assert session.result is not None
    assert f"active {clock(session.result.active_s)}" in screen
    assert "no device: nothing to stop" in screen
    assert "device: head" not in screen  # no device line for no device
    assert len(screen.splitlines()) <= 24


def test_a_long_prompt_fits_80x24_with_the_help_and_progress() -> None:
    plan = preflight(CATALOG.routine("upper-back-massage-gun"), CATALOG.device("pulse-gun-p5"), Caps())
    session = Session(plan, connect=NoDeviceConnector().connect, device_url="sim://pulse-gun-p5")
    view = LiveView(session)
    timeline = simulate(plan, catalog=CATALOG)
    longest = max((s.prompt or "" for s in timeline.steps), key=len)
    view.prompt = longest
    for n in range(5):
        view.log.append(f"[0:0{n}] a log line")
    lines = draw(view).splitlines()
    top = "\n".join(lines[:24])
    assert HELP in top
    assert "session " in top
    assert longest.split()[-1] in top  # the whole prompt is on screen
