"""Broker restart: how soon the controller's retained state is back after the broker returns.

An :class:`MqttLink` with its default backoffs publishes a retained snapshot; the broker
(``/usr/sbin/mosquitto`` on a free loopback port, no persistence) is stopped for a while, the
snapshot changes meanwhile, and the broker is started again on the same port. The figure is the
time from the restart (the port accepting connections) until an independent subscriber has the
new snapshot, for outages of several lengths.

Usage::

    python bench/mqtt_restart.py [--outages 1,2,4.5,8,15] [--mosquitto /usr/sbin/mosquitto]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import aiomqtt

from massager_ctl.mqtt.link import Availability, MqttLink
from massager_ctl.mqtt.url import parse_broker_url

TOPIC = "bench/restart/state"


class Broker:
    """One mosquitto that can be stopped and started again on the same port."""

    def __init__(self, binary: str, folder: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self._binary = binary
        self._conf = folder / "mosquitto.conf"
        self._conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [self._binary, "-c", str(self._conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    raise RuntimeError("mosquitto did not start") from None
                time.sleep(0.01)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait()
            self._proc = None


async def wait_for_snapshot(port: int, expected: bytes) -> None:
    while True:
        try:
            async with aiomqtt.Client("127.0.0.1", port) as client:
                await client.subscribe(TOPIC, qos=1)
                async for message in client.messages:
                    if message.payload == expected:
                        return
        except aiomqtt.MqttError:
            await asyncio.sleep(0.01)


async def run(outages: list[float], binary: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        broker = Broker(binary, Path(folder))
        broker.start()
        config = parse_broker_url(f"mqtt://127.0.0.1:{broker.port}", environ={})
        link = MqttLink(config, client_id="bench-restart", availability=Availability("bench/restart/avail"))
        try:
            async with link:
                print(f"{'outage s':>9}  {'back after restart s':>20}")
                for i, outage in enumerate(outages):
                    link.set_retained(TOPIC, f"before-{i}")
                    await link.flush(timeout_s=5)
                    broker.stop()
                    await link.wait_disconnected()
                    link.set_retained(TOPIC, f"after-{i}")
                    await asyncio.sleep(outage)
                    broker.start()
                    restarted = time.perf_counter()
                    await asyncio.wait_for(wait_for_snapshot(broker.port, f"after-{i}".encode()), 60)
                    print(f"{outage:>9.1f}  {time.perf_counter() - restarted:>20.3f}")
        finally:
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outages", default="1,2,4.5,8,15", help="outage lengths (s), comma-separated")
    parser.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    args = parser.parse_args()
    asyncio.run(run([float(s) for s in args.outages.split(",")], args.mosquitto))


if __name__ == "__main__":
    main()
