"""What ``devices scan`` (find devices) and ``devices try URL`` (smoke-test one) do.

Imported by the commands in :mod:`massager_ctl.cli.devices_cmd` only when they run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serial.tools import list_ports

from massager_ctl.catalog import Catalog
from massager_ctl.cli import EXIT_INTERRUPTED, EXIT_TERMINATED
from massager_ctl.connect import open_device
from massager_ctl.discovery import recognise_advertisement
from massager_ctl.drivers import DeviceState, MassagerDriver
from massager_ctl.drivers.base import STOP_SENT_UNCONFIRMED
from massager_ctl.errors import CommandTimeoutError, ConnectError, DeviceError, LinkLostError
from massager_ctl.models import DeviceProfile
from massager_ctl.openers import open_bumble_central
from massager_ctl.orchestrator.safety import drive_safe
from massager_ctl.retry import Backoff
from massager_ctl.transports.wirelog import WireLog, open_wire_log
from massager_ctl.urls import parse_device_url

if TYPE_CHECKING:
    from bleak.backends.scanner import BaseBleakScanner

Echo = Callable[[str], None]
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Found:
    """One device seen by a scan, with the URL that opens it (``model`` is ``None`` when unknown).

    Attributes:
        url: opens the device (with ``?model=`` when the model is known).
        transport: ``ble`` or ``serial``.
        model: the catalog model, or ``None`` when nothing (or more than one model) fits.
        name: the advertised name or the port's description.
        detail: signal strength or USB id.
        kind: the model's kind (``product`` or ``reference``).
        protocol: the protocol family, when known (also when only the family is: see ``candidates``).
        confidence: how sure the match is: ``high``, ``medium`` or ``low``.
        matched_by: the clues that matched.
        protocol_confidence: the catalog's confidence in the model's protocol facts.
        candidates: every model that fits, when that is more than one.
    """

    url: str
    transport: str
    model: str | None
    name: str | None
    detail: str
    kind: str | None = None
    protocol: str | None = None
    confidence: str | None = None
    matched_by: str | None = None
    protocol_confidence: str | None = None
    candidates: tuple[str, ...] = ()


def serial_candidates(profiles: Iterable[DeviceProfile]) -> list[Found]:
    """Serial ports whose USB VID:PID belongs to a catalog model.

    The match is ``low``: a VID:PID names the USB-serial bridge chip, which many devices share.
    """
    by_usb_id = {usb_id.lower(): p for p in profiles if p.serial is not None for usb_id in p.serial.usb_ids}
    found = []
    for port in list_ports.comports():
        if port.vid is None or port.pid is None:
            continue
        usb_id = f"{port.vid:04x}:{port.pid:04x}"
        profile = by_usb_id.get(usb_id)
        url = f"serial://{port.device}" + (f"?model={profile.id}" if profile else "")
        if profile is None:
            found.append(Found(url, "serial", None, port.description, usb_id))
            continue
        found.append(
            Found(
                url,
                "serial",
                profile.id,
                port.description,
                usb_id,
                kind=profile.kind,
                protocol=profile.protocol.family,
                confidence="low",
                matched_by="USB id",
                protocol_confidence=profile.confidence,
            )
        )
    return found


async def ble_candidates(
    profiles: Iterable[DeviceProfile], *, scan_s: float, backend: type[BaseBleakScanner] | None = None
) -> list[Found]:
    """BLE advertisements recognised as catalog models by name pattern and service UUID.

    Raises:
        ConnectError: Bluetooth is not available.
    """
    from massager_ctl.transports.ble import discover

    profiles = list(profiles)
    found = []
    for adv in await discover(scan_s=scan_s, backend=backend):
        match = recognise_advertisement(profiles, adv.name, adv.service_uuids)
        if match is None:
            continue
        profile = match.profile
        url = f"ble://{adv.address}" + (f"?model={profile.id}" if profile is not None else "")
        found.append(
            Found(
                url,
                "ble",
                profile.id if profile is not None else None,
                adv.name,
                f"rssi {adv.rssi}",
                kind=profile.kind if profile is not None else None,
                protocol=match.protocol,
                confidence=match.confidence,
                matched_by=match.matched_by,
                protocol_confidence=profile.confidence if profile is not None else None,
                candidates=tuple(p.id for p in match.candidates) if len(match.candidates) > 1 else (),
            )
        )
    return found


@contextlib.asynccontextmanager
async def _scanner_backend(hci: str | None) -> AsyncIterator[type[BaseBleakScanner] | None]:
    if hci is None:
        yield None
        return
    async with open_bumble_central(hci) as central:
        yield central.scanner_backend


async def scan(
    cat: Catalog,
    *,
    scan_s: float,
    hci: str | None,
    warn: Echo,
    scanner_backend: type[BaseBleakScanner] | None = None,
) -> list[Found]:
    """Serial ports and BLE advertisements of catalog models; a missing Bluetooth stack is a warning.

    Args:
        cat: the models to recognise.
        scan_s: how long to listen for advertisements.
        hci: a Bumble HCI transport to scan through (``None``: the platform's Bluetooth).
        warn: where a skipped BLE scan is said.
        scanner_backend: the bleak scanner backend to use when ``hci`` is ``None`` (a test's radio).
    """
    profiles = list(cat.devices().values())
    found = serial_candidates(profiles)
    try:
        async with _scanner_backend(hci) as backend:
            backend = backend or scanner_backend
            found += await ble_candidates(profiles, scan_s=scan_s, backend=backend)
    except ConnectError as e:
        warn(f"BLE scan skipped: {e}")
    return found


def _describe(state: DeviceState) -> str:
    parts = [f"motor {'on' if state.motor else 'off'}", f"intensity {state.intensity}", f"heat {state.heat}"]
    if state.head:
        parts.append(f"head {state.head}")
    if state.mode:
        parts.append(f"mode {state.mode}")
    if state.direction:
        parts.append(f"direction {state.direction}")
    if state.temperature_c is not None:
        parts.append(f"{state.temperature_c:.1f} °C")
    return ", ".join([*parts, *state.flags, *(["assumed"] if state.assumed else [])])


Reopen = Callable[[], AbstractAsyncContextManager[MassagerDriver]]

#: Seconds to get a fresh link to a device whose link was lost, just to stop it.
RECONNECT_S = 5.0
#: Between attempts to reopen a lost device to stop it (within RECONNECT_S).
REOPEN_BACKOFF = Backoff(initial_s=0.2, max_s=1.0)


async def exercise(
    device: MassagerDriver, *, dwell_s: float, echo: Echo, reopen: Reopen | None = None
) -> DeviceState:
    """Step through the device's heads, a few intensities and each heat level, then stop, confirmed.

    However it ends (done, failed, cancelled) the device is stopped with retries; when its link
    is gone, ``reopen`` (if given) opens one fresh link just to stop it.

    Raises:
        DeviceError: a step failed, or the device never confirmed the stop.
    """
    profile = device.profile
    identity = device.identity
    echo(
        f"connected: {profile.name} ({identity.model_id}, code 0x{identity.model_code:02x}) "
        f"firmware {identity.firmware}, serial {identity.serial or '-'}"
    )
    echo(f"battery: {device.state.battery}%" if profile.battery else "battery: none (mains powered)")
    echo(f"state: {_describe(device.state)}")
    top = profile.intensity.max_level
    try:
        motorized = [h for h in profile.heads if h.change == "motorized"]
        if motorized:
            await device.set_intensity(1)  # zones are felt only with the motor running
        for head in motorized:
            echo(f"head {head.id}: {_describe(await device.set_head(head.id))}")
            await asyncio.sleep(dwell_s)
        for level in sorted({1, (top + 1) // 2, top}):
            echo(f"intensity {level}: {_describe(await device.set_intensity(level))}")
            await asyncio.sleep(dwell_s)
        heat = profile.heat
        # gently: heat with the motor off, unless the model heats only while its massage runs
        await device.set_intensity(1 if heat is not None and heat.with_motor_only else 0)
        if heat is not None:
            for level, name in enumerate(heat.levels[1:], start=1):
                echo(f"heat {name}: {_describe(await device.set_heat(level))}")
                await asyncio.sleep(dwell_s)
    except asyncio.CancelledError:
        echo("interrupted: stopping the device")
        raise
    finally:
        if device.profile.control_for("stop").confirmation == "none":
            # nothing comes back from this model: the stop goes out several times and stays unconfirmed
            state = await device.stop()
            echo(f"{STOP_SENT_UNCONFIRMED}: {_describe(state)}")
        else:
            state = await make_safe(device, reopen=reopen)
            echo(f"stopped (confirmed): {_describe(state)}")
    return state


async def make_safe(device: MassagerDriver, *, reopen: Reopen | None = None) -> DeviceState:
    """Stop the device, confirmed, retrying; on a lost link, stop it through one fresh link.

    Raises:
        DeviceError: the device never confirmed motor and heat off.
    """
    state = await drive_safe(device)
    if state is None and reopen is not None:
        logger.warning("%s: stop not confirmed; reconnecting to stop it", device.transport.description)
        state = await _stop_through_fresh_link(reopen)
    if state is None:
        raise DeviceError(
            f"{device.transport.description}: the device never confirmed the stop; "
            "its motor or heat may still be on (switch it off by hand)"
        )
    return state


async def _stop_through_fresh_link(reopen: Reopen) -> DeviceState | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECONNECT_S
    for delay in REOPEN_BACKOFF.delays():
        try:
            async with contextlib.AsyncExitStack() as stack:
                async with asyncio.timeout_at(deadline):
                    fresh = await stack.enter_async_context(reopen())
                return await drive_safe(fresh)
        except (ConnectError, LinkLostError, CommandTimeoutError) as e:
            # the port, or the device behind it, may come back a moment after it vanished
            if loop.time() + delay >= deadline:
                logger.warning("reconnect failed: %s", e)
                return None
            await asyncio.sleep(delay)
        except (DeviceError, TimeoutError) as e:
            logger.warning("reconnect failed: %s", e)
            return None
    return None


async def try_url(
    url: str, cat: Catalog, *, dwell_s: float, echo: Echo, wire_log: WireLog | None = None
) -> DeviceState:
    """Open ``url`` and :func:`exercise` the device (a lost link is reopened once, to stop it).

    Raises:
        MassagerError: the device could not be opened, a step failed, or the stop was not confirmed.
    """
    # a sim:// URL starts its own simulator: reopening it would stop a different device
    reopen = (
        None
        if parse_device_url(url).scheme == "sim"
        else lambda: open_device(url, catalog=cat, wire_log=wire_log)
    )
    async with open_device(url, catalog=cat, wire_log=wire_log) as device:
        return await exercise(device, dwell_s=dwell_s, echo=echo, reopen=reopen)


async def try_until_signalled(
    url: str, cat: Catalog, *, dwell_s: float, echo: Echo, wire_log: Path | None = None
) -> int:
    """:func:`try_url` with SIGINT/SIGTERM stopping the device before exiting.

    ``wire_log`` names a file for every frame on the wire (:mod:`massager_ctl.transports.wirelog`).

    Returns:
        The exit code: 0 done, 130 after SIGINT, 143 after SIGTERM (the device confirmed safe).

    Raises:
        MassagerError: as :func:`try_url` (also when a signal came but the stop was not confirmed).
        ConfigError: ``wire_log`` cannot be written.
    """
    async with open_wire_log(wire_log) as frames:
        return await _try_until_signalled(try_url(url, cat, dwell_s=dwell_s, echo=echo, wire_log=frames))


async def _try_until_signalled(trying: Coroutine[Any, Any, DeviceState]) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(trying, name="devices-try")
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if not received:
            # once only: a second Ctrl-C must not cut short the stop the first one started
            task.cancel(f"interrupted by {signal.Signals(signum).name}")
        received.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await task
    except asyncio.CancelledError:
        if not received or not task.cancelled():
            raise
        return EXIT_TERMINATED if received[0] == signal.SIGTERM else EXIT_INTERRUPTED
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0
