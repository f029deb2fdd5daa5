"""Session controls as commands: what pause, resume, skip, stop, confirm, extend, intensity and heat do."""

from __future__ import annotations

from massager_ctl.orchestrator.commands import (
    Command,
    CommandError,
    Confirm,
    Extend,
    Heat,
    Intensity,
    Pause,
    Resume,
    Skip,
    StopCommand,
)
from massager_ctl.orchestrator.session import Session

#: Why a session stopped by a command ended, unless the front end names itself.
REMOTE_STOP_REASON = "stopped by a remote command"


def control_session(
    session: Session | None, command: Command, *, stop_reason: str = REMOTE_STOP_REASON
) -> str:
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
        case StopCommand():
            session.stop(stop_reason)
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
    """The executor of ``run`` with a remote: controls of the one running session.

    Args:
        session: the session the commands control.
        stop_reason: the reason a stop command ends it with.
    """

    def __init__(self, session: Session, *, stop_reason: str = REMOTE_STOP_REASON) -> None:
        self._session = session
        self._stop_reason = stop_reason

    async def execute(self, command: Command) -> str:
        """Carry out one session control.

        Raises:
            CommandError: not a session control, or the session has ended.
            ControlError: the control does not apply now.
        """
        return control_session(self._session, command, stop_reason=self._stop_reason)
