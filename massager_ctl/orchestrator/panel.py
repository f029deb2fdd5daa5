"""The session's controls: each checks that it applies now, then queues a signal for the step loop.

Controls may be called from any task on the loop (the live view's keys, a
remote command): they never wait, raise :class:`ControlError` when they do not
apply in the session's current state, and otherwise leave the work to the step
loop, which handles the signal at once.
"""

from __future__ import annotations

from massager_ctl.orchestrator.actuator import Actuator
from massager_ctl.orchestrator.controls import ControlError, SessionState
from massager_ctl.orchestrator.plan import Plan
from massager_ctl.orchestrator.signals import Inbox, Signal
from massager_ctl.orchestrator.timeline import Timeline

_S = SessionState


class ControlPanel:
    """The controls of one session.

    Args:
        plan: the session's plan (for the intensity cap).
        timeline: the session's state and current step.
        inbox: where the signals go.
        actuator: the current target level.
    """

    def __init__(self, plan: Plan, *, timeline: Timeline, inbox: Inbox, actuator: Actuator) -> None:
        self._plan = plan
        self._timeline = timeline
        self._inbox = inbox
        self._actuator = actuator

    def pause(self) -> None:
        """Hold the motor and heat and keep the step's remaining time.

        Raises:
            ControlError: the session is not running.
        """
        self._require({_S.RUNNING}, "pause")
        self._inbox.put(Signal("pause"))

    def resume(self) -> None:
        """Continue a paused step with the time it had left.

        Raises:
            ControlError: the session is not paused.
        """
        self._require({_S.PAUSED}, "resume")
        self._inbox.put(Signal("resume"))

    def skip(self) -> None:
        """End the current step now and start the next one.

        Raises:
            ControlError: no step is under way.
        """
        self._require({_S.RUNNING, _S.PAUSED, _S.WAITING_FOR_CONFIRM}, "skip")
        self._inbox.put(Signal("skip"))

    def stop(self, reason: str = "stopped by the user") -> None:
        """End the session; the device is made safe. Safe to call twice.

        Raises:
            ControlError: the session has already finished.
        """
        if self._timeline.state.finished:
            raise ControlError(f"cannot stop: the session has already {self._timeline.state.value}")
        self._inbox.put(Signal("stop", reason))

    def confirm(self) -> None:
        """Tell the session the person is ready (head fitted, in position).

        Raises:
            ControlError: the session is not waiting for the person.
        """
        self._require({_S.WAITING_FOR_CONFIRM}, "confirm")
        self._inbox.put(Signal("confirm"))

    def extend(self, seconds: float = 30.0) -> None:
        """Give the current step more time.

        Raises:
            ControlError: no step is timing, or ``seconds`` is not positive.
        """
        self._require({_S.RUNNING, _S.PAUSED}, "extend")
        if not seconds > 0:
            raise ControlError("extend needs a positive number of seconds")
        self._inbox.put(Signal("extend", float(seconds)))

    def nudge(self, delta: int) -> int:
        """Raise or lower the intensity by ``delta`` levels, within the user's cap.

        The offset stays for the rest of the session (a step that plans its
        motor off stays off).

        Returns:
            The new target level.

        Raises:
            ControlError: the motor is off in this step, or the level is already at its limit.
        """
        current = self._require_motor_step("change the intensity")
        return self.set_intensity(current + delta)

    def set_intensity(self, level: int) -> int:
        """Set the current step's intensity to ``level`` (1 … the user's cap), from now on.

        Returns:
            The new target level.

        Raises:
            ControlError: the motor is off in this step, or ``level`` is outside 1 … cap.
        """
        current = self._require_motor_step("change the intensity")
        top = self._plan.max_level
        if level > top:
            raise ControlError(
                f"level {level} is above your cap (level {top} of {self._plan.profile.intensity.max_level})"
            )
        if level < 1:
            raise ControlError("the lowest level is 1; pause or stop to turn the motor off")
        if level == current:
            raise ControlError(f"the intensity is already level {level}")
        self._inbox.put(Signal("intensity", level))
        return level

    def heat_off(self) -> None:
        """Turn the heat off now and keep it off for the rest of the session, whatever the steps plan.

        Taken in every state until the session ends (a paused or waiting session holds heat off already).

        Raises:
            ControlError: the session has already finished.
        """
        if self._timeline.state.finished:
            raise ControlError(
                f"cannot turn the heat off: the session has already {self._timeline.state.value}"
            )
        self._actuator.heat_declined = True
        self._signal_heat()

    def heat_on(self) -> None:
        """Let the routine's planned heat back on after :meth:`heat_off`, within the heat budget.

        Heat comes on only where a step plans it; this never adds heat the routine does not plan.

        Raises:
            ControlError: no step is under way, the routine plans no heat, or its heat budget is spent.
        """
        self._require({_S.RUNNING, _S.PAUSED, _S.WAITING_FOR_CONFIRM}, "turn the heat on")
        refusal = self._actuator.heat_refusal()
        if refusal is not None:
            raise ControlError(f"cannot turn the heat on: {refusal}")
        self._actuator.heat_declined = False
        self._signal_heat()

    def _signal_heat(self) -> None:
        # The step loop reads heat_declined when it takes the signal: one queued is enough.
        if not self._inbox.holds("heat"):
            self._inbox.put(Signal("heat"))

    def _require(self, states: set[SessionState], action: str) -> None:
        if self._timeline.state not in states:
            raise ControlError(
                f"cannot {action}: the session is {self._timeline.state.value.replace('_', ' ')}"
            )

    def _require_motor_step(self, action: str) -> int:
        self._require({_S.RUNNING, _S.PAUSED}, action)
        step = self._timeline.step
        target = self._actuator.target_level(step) if step else None
        if not target:
            raise ControlError(f"cannot {action}: the motor is off in this step")
        return target
