"""Device latency: the driver's set→ack next to the raw transport round trip, measured in the same run.

For each real link to the simulator:

* **pty** — ``serial-cushion-z3`` (mascii) through pyserial on a pseudo-terminal;
* **bumble** — ``pulse-gun-p5`` (mbin) through an unmodified ``bleak.BleakClient`` over Bumble's
  virtual radio,

it measures

* **raw**: a keepalive ping written on the bare transport until its ack is read back (transport,
  link and firmware; no driver);
* **set**: ``driver.set_intensity`` from the call until it returns (ack plus the status that
  confirms the new state), with the minimum command gap set to 0 so only latency is measured.

Usage::

    python bench/device_latency.py [--count 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from firmware_sim import SimulatedDevice
from firmware_sim.ble import BleProfile, BleSimulator
from massager_ctl.catalog import Catalog
from massager_ctl.drivers import DriverOptions, MassagerDriver
from massager_ctl.models import DeviceProfile
from massager_ctl.protocol import Ack, Ping, mascii, mbin
from massager_ctl.transports.base import Transport
from massager_ctl.transports.ble import BleTransport
from massager_ctl.transports.serial import SerialTransport

NO_GAP = DriverOptions(min_command_gap_s=0.0)


async def _timed(count: int, step: Callable[[int], Awaitable[object]]) -> list[float]:
    samples = []
    for i in range(count):
        started = time.perf_counter()
        await step(i)
        samples.append(time.perf_counter() - started)
    return samples


async def raw_round_trips(transport: Transport, profile: DeviceProfile, count: int) -> list[float]:
    """Ping on the bare transport, wait for its ack (other frames, like statuses, are skipped)."""
    splitter = mascii.LineSplitter()

    async def ping(i: int) -> None:
        if profile.protocol.family == "mbin":
            seq = i % 255 + 1
            await transport.send(mbin.encode(Ping(seq=seq)))
            while mbin.decode(await transport.recv()) != Ack(acked="ping", seq=seq):
                pass
            return
        await transport.send(mascii.encode(Ping()))
        while True:
            for line in splitter.feed(await transport.recv()):
                if mascii.decode(line) == Ack(acked="ping"):
                    return

    async with transport:
        return await _timed(count, ping)


async def set_latencies(driver: MassagerDriver, count: int) -> list[float]:
    async with driver:
        driver.keepalive = False  # the pings would share the link with what is measured
        return await _timed(count, lambda i: driver.set_intensity(1 + i % 2))


async def bench_pty(catalog: Catalog, count: int) -> tuple[list[float], list[float]]:
    profile = catalog.device("serial-cushion-z3")
    assert profile.serial is not None
    async with SimulatedDevice(profile) as sim:
        path = (await sim.serve_pty()).removeprefix("serial://").split("?")[0]
        raw = await raw_round_trips(SerialTransport(path, profile.serial), profile, count)
        driver = MassagerDriver(profile, SerialTransport(path, profile.serial), options=NO_GAP)
        return raw, await set_latencies(driver, count)


async def bench_bumble(catalog: Catalog, count: int) -> tuple[list[float], list[float]]:
    profile = catalog.device("pulse-gun-p5")
    assert profile.ble is not None
    async with SimulatedDevice(profile) as sim:
        ble = BleProfile.from_catalog(profile.id, profile.ble.model_dump(), serial=sim.firmware.serial)
        async with BleSimulator(sim.firmware, ble) as radio:
            central, spec = radio.central, profile.ble

            def link() -> BleTransport:
                return BleTransport(
                    radio.address,
                    spec,
                    backend=central.client_backend,
                    scanner_backend=central.scanner_backend,
                )

            raw = await raw_round_trips(link(), profile, count)
            driver = MassagerDriver(profile, link(), options=NO_GAP)
            return raw, await set_latencies(driver, count)


def _ms(samples: list[float], q: int) -> str:
    cut = statistics.quantiles(samples, n=100, method="inclusive")[q - 1]
    return f"{cut * 1000:8.3f}"


async def main(count: int) -> None:
    catalog = Catalog()
    print(f"{'link':8} {'measure':22} {'p50 ms':>8} {'p99 ms':>8}   (n={count})")
    for name, bench in (("pty", bench_pty), ("bumble", bench_bumble)):
        raw, sets = await bench(catalog, count)
        print(f"{name:8} {'raw ping→ack':22} {_ms(raw, 50)} {_ms(raw, 99)}")
        print(f"{name:8} {'driver set→ack+status':22} {_ms(sets, 50)} {_ms(sets, 99)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=300, help="samples per measurement")
    asyncio.run(main(parser.parse_args().count))
