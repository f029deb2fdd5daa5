"""A device service: one device kept connected and idle-safe, routines run on command.

:class:`DeviceService` is the engine of ``serve``, with nothing of any transport in
it. It owns the device link between sessions (reopening it with backoff when it
drops), holds the device safe while no session runs, and carries out commands.
Front ends (MQTT, a web page, a fleet of several services in one process) plug in
the same way:

- commands in, one :class:`~massager_ctl.orchestrator.commands.Answer` out:
  :meth:`~DeviceService.submit` (decided at once, answered when done) or
  :meth:`~DeviceService.handle`; a stop is never queued behind anything;
- everything it says out, in one order, on :attr:`~DeviceService.bus`: every event
  of its sessions, plus the device's confirmed state and "idle" between sessions
  (see :mod:`~massager_ctl.orchestrator.service_events`). Subscribe before
  :meth:`~DeviceService.run` to see it all; a front end that joins later starts
  from :meth:`~DeviceService.snapshot`.

A session gets the service's driver through its connector; if the link drops
mid-session, the session's own reconnect opens the next one and the service adopts
it afterwards. Commands name routines by library id only; the library is read and
validated once, in a worker thread, so a ``stop`` is answered at once whatever
else is going on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.drivers.base import Driver
from massager_ctl.errors import MassagerError
from massager_ctl.events import EventBus
from massager_ctl.models import DeviceProfile, Routine
from massager_ctl.orchestrator.commands import (
    Answer,
    Command,
    CommandError,
    Head,
    Heat,
    Select,
    Start,
    StopCommand,
)
from massager_ctl.orchestrator.device_commands import DeviceCommands
from massager_ctl.orchestrator.device_link import DeviceLink
from massager_ctl.orchestrator.gate import CommandGate
from massager_ctl.orchestrator.person import Person
from massager_ctl.orchestrator.plan import preflight, resolve
from massager_ctl.orchestrator.ratelimit import RateLimiter
from massager_ctl.orchestrator.safety import drive_safe, shielded
from massager_ctl.orchestrator.service_events import ServiceIdle, ServiceSnapshot
from massager_ctl.orchestrator.session import Connector, Session
from massager_ctl.orchestrator.session_commands import REMOTE_STOP_REASON, control_session
from massager_ctl.retry import Backoff
from massager_ctl.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: Seconds between status reads while idle: they notice a dead link without feeding a session.
IDLE_CHECK_S = 5.0
#: Real seconds a direct device command (head, heat, stop while idle) may take.
DEVICE_COMMAND_TIMEOUT_S = 5.0


class DeviceService:
    """Runs routines on one device on command; one instance per device, any number per process.

    Args:
        connect: opens a new link to the device and returns its open driver (e.g.
            ``DeviceConnector.connect``); the service closes a driver it gives up on.
        device_url: shown in session events.
        profile: the device's model.
        catalog: where routines are looked up.
        caps: the user's limits, applied to every routine.
        selected: the routine a ``start`` without ``routine`` runs.
        speed: session clock speed (for a simulator running at the same speed).
        person: who confirms steps and fits heads in each session (default: someone who confirms
            with a ``confirm`` command; ``--yes`` passes the connector's ``auto_person()``).
        backoff: delays between attempts to reopen the device.
        limiter: admission control for commands (default: :class:`RateLimiter`'s default rates).
        stop_reason: the reason a session stopped by a command ends with.
    """

    def __init__(
        self,
        *,
        connect: Connector,
        device_url: str,
        profile: DeviceProfile,
        catalog: Catalog,
        caps: Caps,
        selected: str | None = None,
        speed: float = 1.0,
        person: Person | None = None,
        backoff: Backoff | None = None,
        limiter: RateLimiter | None = None,
        stop_reason: str = REMOTE_STOP_REASON,
    ) -> None:
        self.profile = profile
        self.bus = EventBus()
        self._device_url = device_url
        self._catalog = catalog
        self._caps = caps
        self._selected = selected
        self._speed = speed
        self._person = person
        self._stop_reason = stop_reason
        self._backoff = backoff or Backoff(initial_s=0.5, max_s=15.0, jitter=0.2)
        self._wake = asyncio.Event()
        self._link = DeviceLink(connect=connect, device_url=device_url, bus=self.bus, on_lost=self._wake.set)
        self._device = DeviceCommands(profile, self._link, timeout_s=DEVICE_COMMAND_TIMEOUT_S)
        self._gate = CommandGate(self, limiter=limiter)
        self._session: Session | None = None
        self._session_task: asyncio.Task[None] | None = None
        self._library: asyncio.Future[dict[str, Routine]] | None = None
        self._closing = False
        #: Set by the shutdown once the device confirmed motor and heat off; False if it could not.
        self.stopped_safe = False

    @property
    def session(self) -> Session | None:
        """The running session, if any."""
        if self._session is not None and not self._session.state.finished:
            return self._session
        return None

    @property
    def selected(self) -> str | None:
        """The routine a ``start`` without one runs."""
        return self._selected

    def snapshot(self) -> ServiceSnapshot:
        """Where the service stands now: for a front end that joins after :meth:`run` started."""
        driver = self._link.driver
        return ServiceSnapshot(
            connected=self._link.up,
            device=driver.state if driver is not None else None,
            identity=driver.identity if driver is not None else None,
            selected=self._selected,
            session=self._session.snapshot() if self._session is not None else None,
        )

    def submit(self, command: Command | CommandError) -> asyncio.Future[Answer]:
        """Admit ``command`` now, in arrival order; the future of its one answer.

        A command refused at once (busy, malformed) comes back already answered. See
        :class:`~massager_ctl.orchestrator.gate.CommandGate`.
        """
        return self._gate.submit(command)

    async def handle(self, command: Command | CommandError) -> Answer:
        """Carry out one command and return its answer; never raises for a refused command."""
        return await self.submit(command)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the device until ``stop`` is set, then stop any session and leave the device safe."""
        self.bus.publish(ServiceIdle(routine=self._selected))
        keeper = asyncio.create_task(self._keep_device(), name="service-device")
        self._load_library()  # read the library now rather than when the first start comes
        try:
            await stop.wait()
        finally:
            # The device ends safe even if this task is cancelled meanwhile; that cancel is re-raised.
            _, cancelled = await shielded(self._shutdown(keeper))
            if cancelled:
                raise asyncio.CancelledError()

    async def _shutdown(self, keeper: asyncio.Task[None]) -> None:
        self._closing = True
        session, task = self.session, self._session_task
        if session is not None:
            with contextlib.suppress(MassagerError):
                session.stop("the controller is shutting down")
        if task is not None:
            await asyncio.wait({task})  # _run_session logs whatever ended it
        await cancel_and_wait(keeper)
        driver, up = self._link.detach()
        if driver is not None and up:
            state = await drive_safe(driver)
            if state is not None:
                self.stopped_safe = True
                self._link.publish(state, driver)
        await self._link.release(driver)
        await self._link.stop_mirror()
        await self._gate.close()

    # ------------------------------------------------------------------ the device between sessions

    async def _keep_device(self) -> None:
        delays = self._backoff.delays()
        while True:
            if self._session_task is not None and not self._session_task.done():
                await asyncio.wait({self._session_task})  # _run_session logs whatever ended it
                continue
            if not self._link.up:
                try:
                    await self._link.reopen()
                except MassagerError as e:
                    log.warning("device %s: %s; retrying", self._device_url, e)
                    await asyncio.sleep(next(delays, self._backoff.max_s))  # bounded: keeps its longest
                    continue
                delays = self._backoff.delays()
            driver = self._link.driver
            assert driver is not None
            await self._idle(driver)

    async def _idle(self, driver: Driver) -> None:
        """Hold the device safe until the link drops or a session starts."""
        driver.keepalive = False  # only a healthy session feeds the watchdog
        with contextlib.suppress(MassagerError):
            if await drive_safe(driver) is None:
                log.warning("device %s did not confirm motor and heat off", self._device_url)
        self._wake.clear()
        while self._link.up and self.session is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_CHECK_S):
                    await self._wake.wait()
            if not self._link.up or self.session is not None:
                return
            self._wake.clear()
            try:
                async with asyncio.timeout(DEVICE_COMMAND_TIMEOUT_S):
                    await driver.refresh()
            except (MassagerError, TimeoutError) as e:
                log.warning("device %s stopped answering: %s", self._device_url, e)
                self._link.mark_lost()

    # ------------------------------------------------------------------ commands

    async def execute(self, command: Command) -> str:
        """Carry out one command admitted by the gate (use :meth:`submit` or :meth:`handle`).

        Raises:
            CommandError: the command does not apply now.
            MassagerError: the session or the device refused it (e.g. a level above the user's cap).
        """
        if self._closing:
            if isinstance(command, StopCommand):  # never refused: the shutdown is making the device safe
                return "the controller is shutting down; the device is being made safe"
            raise CommandError("the controller is shutting down")
        match command:
            case Start():
                return self._start(await self._routine(command.routine or self._selected))
            case Select():
                routine = await self._routine(command.routine)
                # The select offers only what passes pre-flight here; a hand-written one is held to that too.
                problems = resolve(routine, self.profile, self._caps).problems
                if problems:
                    raise CommandError(
                        f"{routine.id} does not pass pre-flight on {self.profile.id}: {'; '.join(problems)}"
                    )
                self._selected = routine.id
                if self.session is None:
                    self.bus.publish(ServiceIdle(routine=routine.id))
                return f"selected {routine.id}"
            case StopCommand() if self.session is None:
                return await self._device.stop()
            case Head():
                self._require_no_session("the routine chooses the head while a session runs")
                return await self._device.set_head(command.head)
            case Heat() if self.session is None:  # in a session, heat goes to the session (control_session)
                return await self._device.set_heat(on=command.on)
        return control_session(self.session, command, stop_reason=self._stop_reason)

    def _require_no_session(self, message: str) -> None:
        if self.session is not None:
            raise CommandError(message)

    def _load_library(self) -> asyncio.Future[dict[str, Routine]]:
        if self._library is None:
            self._library = asyncio.ensure_future(asyncio.to_thread(self._catalog.routines))
            self._library.add_done_callback(_log_library_problem)
        return self._library

    async def _routine(self, routine_id: str | None) -> Routine:
        """A library routine, the library read off the event loop the first time.

        Raises:
            CommandError: no id given and none selected.
            ConfigError: not an id, or not in the library (the message lists the library).
            CatalogError: the library does not validate (it is read again on the next command).
        """
        if routine_id is None:
            raise CommandError('no routine given and none selected: send {"action": "start", "routine": ID}')
        library = self._load_library()
        try:
            # Shielded: a command cancelled meanwhile must not cancel the load the others share.
            await asyncio.shield(library)
        except MassagerError:
            if self._library is library:
                self._library = None  # the user may have fixed the file by the next command
            raise
        # The library is loaded now: this looks it up in memory and touches no file.
        return self._catalog.library_routine(routine_id)

    def _start(self, routine: Routine) -> str:
        if self._closing:  # the library may have been read while the shutdown began
            raise CommandError("the controller is shutting down")
        if self.session is not None:
            raise CommandError(
                f"a session is already running ({self.session.plan.routine.id}); stop it first"
            )
        self._link.connected()
        plan = preflight(routine, self.profile, self._caps)
        session = Session(
            plan,
            connect=self._link.for_session,
            device_url=self._device_url,
            bus=self.bus,
            person=self._person,
            speed=self._speed,
            close_device=False,
        )
        self._session = session
        self._selected = routine.id
        self._session_task = asyncio.create_task(
            self._run_session(session), name=f"service-session-{session.id}"
        )
        self._wake.set()
        return f"started {routine.id} (session {session.id})"

    async def _run_session(self, session: Session) -> None:
        try:
            result = await session.run()
            log.info("session %s %s: %s", result.session_id, result.status, result.reason)
        except MassagerError as e:
            log.error("session %s failed: %s", session.id, e)
        except Exception:
            # A bug: the session made the device safe and published its end before raising; the
            # service goes on (the idle loop drives the device safe again) but the traceback must be seen.
            log.exception("session %s crashed", session.id)
        finally:
            if session.driver is not None:
                self._link.adopt(session.driver)
            else:
                self._link.mark_lost()


def _log_library_problem(library: asyncio.Future[dict[str, Routine]]) -> None:
    if not library.cancelled() and isinstance(library.exception(), MassagerError):
        log.warning("the routine library: %s", library.exception())
