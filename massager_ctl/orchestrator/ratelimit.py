"""Admission control for remote commands: token buckets per client and for everyone together.

A command is let in only if both its client's bucket and the shared one hold a
token; otherwise it is answered "busy" before any work is done. MQTT 3.1.1 does
not tell a subscriber who published a message, so the client is what the command
says it is (its ``client`` field, else ``anonymous``): a courtesy that keeps one
chatty dashboard from starving the phone, while the shared bucket bounds what
everyone together can make the controller do. A ``stop`` is never limited.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_s`` tokens a second, holding at most ``burst``."""

    per_s: float
    burst: float


#: One client: a burst of 20 commands, then 10 a second (a slider dragged in Home Assistant fits).
CLIENT_RATE = Rate(per_s=10.0, burst=20.0)
#: Everyone together.
TOTAL_RATE = Rate(per_s=50.0, burst=100.0)
#: Clients with their own bucket; beyond this the least recently heard one is forgotten.
MAX_CLIENTS = 64


class _Bucket:
    def __init__(self, rate: Rate, now: float) -> None:
        self._rate = rate
        self._tokens = rate.burst
        self._at = now

    def refill(self, now: float) -> float:
        self._tokens = min(self._rate.burst, self._tokens + (now - self._at) * self._rate.per_s)
        self._at = now
        return self._tokens

    def take(self) -> None:
        self._tokens -= 1.0


class RateLimiter:
    """Decides, without waiting, whether a command may be carried out now.

    Args:
        clock: seconds from a monotonic clock (the event loop's ``time``).
        client_rate: each client's bucket.
        total_rate: the bucket shared by all clients.
        max_clients: how many clients keep their own bucket (memory stays bounded whatever ids are sent).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        client_rate: Rate = CLIENT_RATE,
        total_rate: Rate = TOTAL_RATE,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self._clock = clock
        self._client_rate = client_rate
        self._max_clients = max_clients
        self._total = _Bucket(total_rate, clock())
        self._clients: OrderedDict[str, _Bucket] = OrderedDict()
        self.refused = 0

    @property
    def tracked_clients(self) -> int:
        """Clients that have a bucket of their own now (at most ``max_clients``)."""
        return len(self._clients)

    def admit(self, client: str | None) -> bool:
        """Take a token for ``client`` (``None``: anonymous); ``False`` if it or everyone is over the rate."""
        now = self._clock()
        key = client or ANONYMOUS
        bucket = self._clients.get(key)
        if bucket is None:
            bucket = self._clients[key] = _Bucket(self._client_rate, now)
            if len(self._clients) > self._max_clients:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(key)
        if bucket.refill(now) < 1.0 or self._total.refill(now) < 1.0:
            self.refused += 1
            return False
        bucket.take()
        self._total.take()
        return True
