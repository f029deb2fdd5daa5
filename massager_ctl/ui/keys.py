"""Single-key controls on a terminal: space, n, e, h, +, -, q, Enter.

The terminal goes to cbreak mode (keys arrive at once, Ctrl-C still sends
SIGINT) and is restored on exit, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import tty
from collections.abc import Callable, Iterator

from massager_ctl.orchestrator import ControlError, Session, SessionState

HELP = "space pause · n skip · e +30s · h heat off · +/- level · Enter confirm · q stop"

#: Seconds one ``e`` adds to the current step.
EXTEND_S = 30.0


def handle_key(session: Session, key: str) -> str | None:
    """Apply one key to the session.

    Returns:
        A message for the person (what happened or why not), or ``None`` for an unused key.
    """
    try:
        match key:
            case " ":
                if session.state is SessionState.PAUSED:
                    session.resume()
                    return "resuming"
                session.pause()
                return "pausing"
            case "n":
                session.skip()
                return "skipping this step"
            case "e":
                session.extend(EXTEND_S)
                return f"extending this step by {EXTEND_S:g} s"
            case "h":
                session.heat_off()
                return "heat off for the rest of the session"
            case "+" | "=":
                return f"intensity level {session.nudge(+1)}"
            case "-" | "_":
                return f"intensity level {session.nudge(-1)}"
            case "q":
                session.stop("stopped by the user")
                return "stopping: motor and heat off"
            case "\r" | "\n":
                session.confirm()
                return "confirmed"
    except ControlError as e:
        return str(e)
    return None


@contextlib.contextmanager
def key_reader(fd: int, on_key: Callable[[str], None]) -> Iterator[None]:
    """Call ``on_key`` for each key typed on the terminal ``fd`` while the block runs."""
    loop = asyncio.get_running_loop()
    saved = termios.tcgetattr(fd)

    def readable() -> None:
        try:
            data = os.read(fd, 64)
        except OSError:
            return
        for char in data.decode(errors="ignore"):
            on_key(char)

    tty.setcbreak(fd)
    loop.add_reader(fd, readable)
    try:
        yield
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
