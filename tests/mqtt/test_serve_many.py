"""``serve`` with several devices from config.toml's ``[[devices]]``: a real process, a real mosquitto."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest

from tests.mqtt.mqtt_support import Broker, cli_env, retained, watch, write_routine

pytestmark = pytest.mark.slow

CONFIG = """\
controller_id = "bedroom"

[[devices]]
url = "sim://shiatsu-cushion-s3?link=virtual"
id = "cushion"
name = "Bed cushion"
routine = "remote-test"

[[devices]]
url = "sim://shiatsu-cushion-s3?link=virtual&faults=drop_link_at=2,reconnect_after=600"
id = "lost"
"""


async def test_sigterm_stops_every_device_and_says_which_could_not_confirm(
    broker: Broker, tmp_path: Path
) -> None:
    write_routine(tmp_path / "routines", "remote-test", step_s=30)
    env = cli_env(tmp_path)
    (tmp_path / "no-config.toml").write_text(CONFIG)  # the file cli_env names
    assert env["MASSAGER_CONFIG"] == str(tmp_path / "no-config.toml")
    async with watch(broker, "massager/#", "homeassistant/device/+/config") as watcher:
        with (tmp_path / "serve.log").open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "massager_ctl",
                "serve",
                "--mqtt",
                broker.url,
                env=env,
                stdout=log,
                stderr=log,
            )
        try:
            for device in ("cushion", "lost"):
                await watcher.wait_for(
                    f"massager/{device}/availability", lambda p: p == b"online", within_s=20
                )
            # the second device's link drops for good; the first one runs its routine meanwhile
            await watcher.wait_for(
                "massager/lost/state", lambda p: not json.loads(p)["connected"], within_s=20
            )
            await watcher.client.publish(
                "massager/cushion/cmd", json.dumps({"action": "start", "id": "go"}), qos=1
            )
            answer = await watcher.wait_for("massager/cushion/cmd/result", within_s=20)
            assert json.loads(answer)["ok"], answer
            await watcher.wait_for("massager/cushion/state", lambda p: json.loads(p)["motor"], within_s=20)
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 30) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        config = json.loads(await watcher.wait_for("homeassistant/device/cushion/config"))
    assert config["dev"]["name"] == "Bed cushion"

    lines = (tmp_path / "serve.log").read_text().strip().splitlines()
    assert lines[-3:] == [
        "cushion: stopped; the device is off",
        "lost: stopped; motor and heat off could not be confirmed (its link was down: the device's own "
        "watchdog stops it)",
        "stopped; 1 of 2 devices confirmed off",
    ]
    left = await retained(broker, "massager/#")
    for device in ("cushion", "lost"):
        assert left[f"massager/{device}/availability"] == b"offline"
        assert json.loads(left[f"massager/{device}/controller"]) == {"id": "bedroom"}
    state = json.loads(left["massager/cushion/state"])
    assert (state["motor"], state["intensity"], state["heat_level"]) == (False, 0, 0)
    assert json.loads(left["massager/cushion/session"])["status"] == "stopped"
