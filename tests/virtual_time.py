"""Virtual time (looptime) for tests whose event loop waits on nothing outside the process."""

from __future__ import annotations

import pytest

#: looptime idles the loop for 42 cycles before each jump of its clock (its ``noop_cycles``): a grace
#: for I/O from outside the loop (a pty, a socket, another process) to land before the jump. Over
#: in-memory links nothing arrives from outside (looptime waits for executor threads on its own), so
#: the grace only multiplies the loop's turns, about fortyfold in a session of keepalives; the events
#: and their times are the same without it (checked on the suspend-safety runs: identical traces).
#: Bumble's virtual radio is in-process too. Tests over a pty or a socket keep the plain
#: ``pytest.mark.looptime`` (or real time: a pty's bytes pass through the kernel).
IN_MEMORY = pytest.mark.looptime(noop_cycles=0)
