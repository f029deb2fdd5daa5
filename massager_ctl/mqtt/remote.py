"""``serve``: keep one device connected and idle-safe, and run routines on MQTT commands.

:class:`RemoteController` owns the device link between sessions (reopening it
with backoff when it drops), mirrors the device's confirmed state to
``state``, and turns commands into session controls. A session gets the same
driver through its connector; if the link drops mid-session, the session's own
reconnect opens the next one and the controller adopts it afterwards.

Commands name routines by library id only. The library is read and validated
once, in a worker thread (parsing YAML can take long and must never hold up the
event loop: a ``stop`` is answered at once whatever else is going on).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable

from massager_ctl.catalog import Catalog
from massager_ctl.config import Caps
from massager_ctl.drivers.base import Driver
from massager_ctl.errors import MassagerError
from massager_ctl.events import EventBus
from massager_ctl.models import DeviceProfile, Routine
from massager_ctl.mqtt.commands import (
    Command,
    CommandError,
    Confirm,
    Extend,
    Head,
    Heat,
    Intensity,
    Pause,
    Resume,
    Select,
    Skip,
    Start,
    Stop,
)
from massager_ctl.mqtt.service import MqttStatus
from massager_ctl.mqtt.tasks import cancel_and_wait
from massager_ctl.mqtt.topics import DEFAULT_DISCOVERY_PREFIX, DEFAULT_PREFIX, device_id_from_url, make_topics
from massager_ctl.mqtt.url import BrokerConfig
from massager_ctl.orchestrator import Connector, Session, preflight, resolve
from massager_ctl.orchestrator.safety import drive_safe, shielded
from massager_ctl.retry import Backoff

log = logging.getLogger(__name__)

#: Seconds between status reads while idle: they notice a dead link without feeding a session.
IDLE_CHECK_S = 5.0
#: Real seconds a direct device command (head, heat, stop while idle) may take.
DEVICE_COMMAND_TIMEOUT_S = 5.0


class RemoteController:
    """Carries out MQTT commands on one device (the ``serve`` engine).

    Args:
        connect: opens a new link to the device and returns its open driver (e.g.
            ``DeviceConnector.connect``); the controller closes a driver it gives up on.
        device_url: shown in session events.
        profile: the device's model.
        catalog: where routines are looked up.
        caps: the user's limits, applied to every routine.
        selected: the routine a ``start`` without ``routine`` runs.
        speed: session clock speed (for a simulator running at the same speed).
        auto_confirm: confirm waits for the person at once (no one may be there to confirm).
        backoff: delays between attempts to reopen the device.
        fit_head: plays the person's part in a manual head change confirmed by ``auto_confirm``
            on a simulator (see :class:`Session`).
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
        auto_confirm: bool = False,
        backoff: Backoff | None = None,
        fit_head: Callable[[str], None] | None = None,
    ) -> None:
        self._connect = connect
        self._fit_head = fit_head
        self._device_url = device_url
        self._profile = profile
        self._catalog = catalog
        self._caps = caps
        self._selected = selected
        self._speed = speed
        self._auto_confirm = auto_confirm
        self._backoff = backoff or Backoff(initial_s=0.5, max_s=15.0, jitter=0.2)
        self._mqtt: MqttStatus | None = None
        self._driver: Driver | None = None
        self._lost = asyncio.Event()
        self._mirror: asyncio.Task[None] | None = None
        self._session: Session | None = None
        self._session_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._library: asyncio.Future[dict[str, Routine]] | None = None
        # Head and heat commands go to the device one at a time, in order; a stop does not queue here.
        self._device_commands = asyncio.Lock()

    @property
    def session(self) -> Session | None:
        """The running session, if any."""
        if self._session is not None and not self._session.state.finished:
            return self._session
        return None

    @property
    def mqtt(self) -> MqttStatus:
        if self._mqtt is None:
            raise RuntimeError("the controller is not attached to MQTT")
        return self._mqtt

    def attach(self, mqtt: MqttStatus) -> None:
        """Publish through ``mqtt`` from now on."""
        self._mqtt = mqtt
        mqtt.publisher.idle(routine=self._selected)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the device until ``stop`` is set, then stop any session and leave the device safe."""
        keeper = asyncio.create_task(self._keep_device(), name="serve-device")
        self._load_library()  # read the library now rather than when the first start comes
        try:
            await stop.wait()
        finally:
            # The device ends safe even if this task is cancelled meanwhile; that cancel is re-raised.
            _, cancelled = await shielded(self._shutdown(keeper))
            if cancelled:
                raise asyncio.CancelledError()

    async def _shutdown(self, keeper: asyncio.Task[None]) -> None:
        session, task = self.session, self._session_task
        if session is not None:
            with contextlib.suppress(MassagerError):
                session.stop("the controller is shutting down")
        if task is not None:
            await asyncio.wait({task})  # _run_session logs whatever ended it
        await cancel_and_wait(keeper)
        driver, self._driver = self._driver, None
        if driver is not None and not self._lost.is_set():
            state = await drive_safe(driver)
            if state is not None:
                self.mqtt.publisher.device_state(state)
        await self._release(driver)
        if self._mirror is not None:
            await cancel_and_wait(self._mirror)

    # ------------------------------------------------------------------ the device between sessions

    async def _keep_device(self) -> None:
        delays = self._backoff.delays()
        while True:
            if self._session_task is not None and not self._session_task.done():
                await asyncio.wait({self._session_task})  # _run_session logs whatever ended it
                continue
            if self._driver is None or self._lost.is_set():
                try:
                    await self._reopen()
                except MassagerError as e:
                    log.warning("device %s: %s; retrying", self._device_url, e)
                    await asyncio.sleep(next(delays, self._backoff.max_s))
                    continue
                delays = self._backoff.delays()
            driver = self._driver
            assert driver is not None
            await self._idle(driver)

    async def _idle(self, driver: Driver) -> None:
        """Hold the device safe until the link drops or a session starts."""
        driver.keepalive = False  # only a healthy session feeds the watchdog
        with contextlib.suppress(MassagerError):
            if await drive_safe(driver) is None:
                log.warning("device %s did not confirm motor and heat off", self._device_url)
        self._wake.clear()
        while not self._lost.is_set() and self.session is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_CHECK_S):
                    await self._wake.wait()
            if self._lost.is_set() or self.session is not None:
                return
            self._wake.clear()
            try:
                async with asyncio.timeout(DEVICE_COMMAND_TIMEOUT_S):
                    await driver.refresh()
            except (MassagerError, TimeoutError) as e:
                log.warning("device %s stopped answering: %s", self._device_url, e)
                self._lost.set()

    async def _reopen(self) -> Driver:
        old, self._driver = self._driver, None
        await self._release(old)
        driver = await self._connect()
        self._adopt(driver)
        return driver

    @staticmethod
    async def _release(driver: Driver | None) -> None:
        if driver is not None:
            with contextlib.suppress(MassagerError, TimeoutError):
                async with asyncio.timeout(5.0):
                    await driver.close()

    def _adopt(self, driver: Driver) -> None:
        if driver is self._driver and not self._lost.is_set():
            return
        self._driver = driver
        self._lost.clear()
        if self._mirror is not None:
            self._mirror.cancel()
        self._mirror = asyncio.create_task(self._mirror_states(driver), name="serve-device-state")
        self.mqtt.set_identity(driver.identity)
        self.mqtt.publisher.device_state(driver.state)

    async def _mirror_states(self, driver: Driver) -> None:
        last = driver.state
        try:
            async for state in driver.states():
                last = state
                self.mqtt.publisher.device_state(state)
                if not state.connected:
                    break
        except MassagerError as e:
            log.warning("device %s: %s", self._device_url, e)
        if driver is self._driver:
            self.mqtt.publisher.device_state(dataclasses.replace(last, connected=False))
            self._lost.set()
            self._wake.set()

    async def _session_connect(self) -> Driver:
        # The session's first call gets the idle driver; after a drop it gets a fresh link.
        if self._driver is not None and not self._lost.is_set():
            return self._driver
        return await self._reopen()

    # ------------------------------------------------------------------ commands

    async def handle(self, command: Command) -> str:
        """Carry out one command.

        Raises:
            CommandError: the command does not apply now.
            MassagerError: the session or the device refused it (e.g. a level above the user's cap).
        """
        match command:
            case Start():
                return self._start(await self._routine(command.routine or self._selected))
            case Select():
                routine = await self._routine(command.routine)
                # The select offers only what passes pre-flight here; a hand-written one is held to that too.
                problems = resolve(routine, self._profile, self._caps).problems
                if problems:
                    raise CommandError(
                        f"{routine.id} does not pass pre-flight on {self._profile.id}: {'; '.join(problems)}"
                    )
                self._selected = routine.id
                if self.session is None:
                    self.mqtt.publisher.idle(routine=routine.id)
                return f"selected {routine.id}"
            case Stop() if self.session is None:
                return await self._stop_idle()
            case Head():
                return await self._set_head(command.head)
            case Heat() if self.session is None:
                return await self._set_heat(on=command.on)
        return control_session(self.session, command)

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
        if self.session is not None:
            raise CommandError(
                f"a session is already running ({self.session.plan.routine.id}); stop it first"
            )
        if self._driver is None or self._lost.is_set():
            raise CommandError("the device is not connected; it is being reconnected")
        plan = preflight(routine, self._profile, self._caps)
        bus = EventBus()
        session = Session(
            plan,
            connect=self._session_connect,
            device_url=self._device_url,
            bus=bus,
            auto_confirm=self._auto_confirm,
            speed=self._speed,
            close_device=False,
            fit_head=self._fit_head,
        )
        self.mqtt.follow(bus)
        self._session = session
        self._selected = routine.id
        self._session_task = asyncio.create_task(
            self._run_session(session, bus), name=f"serve-session-{session.id}"
        )
        self._wake.set()
        return f"started {routine.id} (session {session.id})"

    async def _run_session(self, session: Session, bus: EventBus) -> None:
        try:
            result = await session.run()
            log.info("session %s %s: %s", result.session_id, result.status, result.reason)
        except MassagerError as e:
            log.error("session %s failed: %s", session.id, e)
        except Exception:
            # A bug: the session made the device safe and published its end before raising; serve
            # goes on (the idle loop drives the device safe again) but the traceback must be seen.
            log.exception("session %s crashed", session.id)
        finally:
            bus.close()
            if session.driver is not None:
                self._adopt(session.driver)
            elif self._driver is not None:
                self._lost.set()

    async def _stop_idle(self) -> str:
        driver = self._connected_driver()
        state = await drive_safe(driver)
        if state is None:
            raise CommandError("the device did not confirm motor and heat off")
        return "no session was running; the device is stopped"

    async def _set_head(self, head_id: str) -> str:
        if self.session is not None:
            raise CommandError("the routine chooses the head while a session runs")
        head = self._profile.head(head_id)
        if head is None:
            known = ", ".join(h.id for h in self._profile.heads)
            raise CommandError(f"{self._profile.id} has no head {head_id!r}; heads: {known}")
        if head.change == "manual":
            raise CommandError(f"{head.name} is an attachment: fit it by hand")
        async with self._device_commands:
            driver = self._connected_driver()
            try:
                async with asyncio.timeout(DEVICE_COMMAND_TIMEOUT_S):
                    state = await driver.set_head(head.id)
            except TimeoutError:
                raise CommandError("the device did not answer in time") from None
        if state.head != head.id:  # a stop came first and dropped the change
            raise CommandError(f"the head change to {head.id} was cancelled; the head is {state.head}")
        return f"head {head.id}"

    async def _set_heat(self, *, on: bool) -> str:
        if self._profile.heat is None:
            raise CommandError(f"{self._profile.id} has no heat")
        if on:
            raise CommandError(
                "heat only runs inside a routine, within its time budget; start a routine with heat"
            )
        async with self._device_commands:
            driver = self._connected_driver()
            try:
                async with asyncio.timeout(DEVICE_COMMAND_TIMEOUT_S):
                    state = await driver.set_heat(0)
            except TimeoutError:
                raise CommandError("the device did not answer in time") from None
        return f"heat {'off' if state.heat == 0 else 'still on'}"

    def _connected_driver(self) -> Driver:
        if self._driver is None or self._lost.is_set():
            raise CommandError("the device is not connected; it is being reconnected")
        return self._driver


def _log_library_problem(library: asyncio.Future[dict[str, Routine]]) -> None:
    if not library.cancelled() and isinstance(library.exception(), MassagerError):
        log.warning("the routine library: %s", library.exception())


def control_session(session: Session | None, command: Command) -> str:
    """Apply a session control (pause, resume, skip, stop, confirm, extend, intensity, heat) to ``session``.

    Heat off is taken in every state until the session ends and holds for the rest of it; heat on
    only lets the routine's planned heat back, within its budget.

    Raises:
        CommandError: no session is running, the command is not a session control, or no heat on this model.
        ControlError: the control does not apply in the session's state, a level beyond the user's cap,
            or heat on that would break the heat budget.
    """
    if session is None or session.state.finished:
        raise CommandError(f"no session is running; '{command.action}' needs one")
    match command:
        case Pause():
            session.pause()
            return "paused"
        case Resume():
            session.resume()
            return "resumed"
        case Skip():
            session.skip()
            return "skipped to the next step"
        case Stop():
            session.stop("stopped over MQTT")
            return "stopping; the device is being made safe"
        case Confirm():
            session.confirm()
            return "confirmed"
        case Extend():
            session.extend(command.seconds)
            return f"step extended by {command.seconds:g} s"
        case Intensity() if command.level is not None:
            return f"intensity level {session.set_intensity(command.level)}"
        case Intensity() if command.delta is not None:
            return f"intensity level {session.nudge(command.delta)}"
        case Heat() if session.plan.profile.heat is None:
            raise CommandError(f"{session.plan.profile.id} has no heat")
        case Heat() if command.on:
            session.heat_on()
            return "heat on where the routine plans it, within its heat budget"
        case Heat():
            session.heat_off()
            return "heat off for the rest of the session"
    raise CommandError(f"'{command.action}' is for 'massager-ctl serve'; this controller runs one session")


class SessionCommands:
    """The command handler of ``run --mqtt``: controls of the one running session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def handle(self, command: Command) -> str:
        """Carry out one session control.

        Raises:
            CommandError: not a session control, or the session has ended.
            ControlError: the control does not apply now.
        """
        return control_session(self._session, command)


@contextlib.asynccontextmanager
async def session_status(
    session: Session,
    *,
    broker: BrokerConfig,
    prefix: str = DEFAULT_PREFIX,
    device_id: str | None = None,
    discovery: bool = True,
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX,
    backoff: Backoff | None = None,
) -> AsyncIterator[MqttStatus]:
    """Publish one session (``run --mqtt``) and take its controls from ``cmd``.

    Connects before it yields, so a bad login fails before the session starts; on
    exit the last events are flushed and ``offline`` is published::

        async with session_status(session, broker=parse_broker_url(url)):
            result = await session.run()

    Raises:
        ConfigError: a bad prefix or device id.
        BrokerAuthError: the broker rejected the login.
        BrokerError: the broker could not be reached.
    """
    # Subscribe before connecting: nothing the session emits meanwhile is lost.
    subscription = session.bus.subscribe(maxsize=1024, name="mqtt")
    try:
        async with _status_for(
            session, broker, prefix, device_id, discovery, discovery_prefix, backoff
        ) as mqtt:
            mqtt.publisher.idle(routine=session.plan.routine.id)
            mqtt.follow(subscription)
            try:
                yield mqtt
            finally:
                await mqtt.drain()
    finally:
        subscription.close()


def _status_for(
    session: Session,
    broker: BrokerConfig,
    prefix: str,
    device_id: str | None,
    discovery: bool,
    discovery_prefix: str,
    backoff: Backoff | None,
) -> MqttStatus:
    profile = session.plan.profile
    topics = make_topics(
        prefix=prefix,
        device_id=device_id or device_id_from_url(session.device_url, profile.id),
        discovery_prefix=discovery_prefix,
    )
    routine = session.plan.routine
    return MqttStatus(
        broker,
        topics=topics,
        profile=profile,
        handler=SessionCommands(session),
        discovery=discovery,
        routines=[(routine.id, routine.title)],
        backoff=backoff,
    )
