"""Test support: a real mosquitto on a free loopback port, and independent subscribers to watch it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import getpass
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiomqtt
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

MOSQUITTO = os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")
USER = "massager"
# paho leaves Nagle on; without this a client that publishes and receives on one socket waits on delayed ACKs.
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
PASSWORD = "s3cret-Pa55word"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = 101) -> str:
    """A mosquitto 2.x password-file hash (``$7$``: PBKDF2-HMAC-SHA512)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def write_password_file(path: Path, user: str, password: str, *, tool: bool = True) -> None:
    """With ``mosquitto_passwd`` when it is installed (and ``tool``), else hashed here."""
    passwd = shutil.which("mosquitto_passwd") or (
        "/usr/bin/mosquitto_passwd" if Path("/usr/bin/mosquitto_passwd").exists() else None
    )
    if tool and passwd:
        subprocess.run([passwd, "-b", "-c", str(path), user, password], check=True, capture_output=True)
    else:
        path.write_text(f"{user}:{hash_password(password)}\n")
    path.chmod(0o600)


@dataclass
class Broker:
    """One mosquitto process; ``restart`` keeps the port (retained messages do not survive it)."""

    dir: Path
    port: int
    password_file: Path | None = None
    tls: tuple[Path, Path, Path] | None = None  # CA, certificate, key
    #: Configuration lines of its own (logins, ACL): then ``allow_anonymous`` is left to them.
    config: list[str] | None = None
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def url_for(self, user: str, password: str) -> str:
        return f"mqtt://{user}:{password}@{self.host}:{self.port}"

    @property
    def log(self) -> str:
        path = self.dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        conf = self.dir / "mosquitto.conf"
        lines = [
            f"listener {self.port} {self.host}",
            "persistence false",
            f"user {getpass.getuser()}",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",  # the "running" line start() waits for
        ]
        if self.tls is not None:
            ca, cert, key = self.tls
            lines += [f"cafile {ca}", f"certfile {cert}", f"keyfile {key}"]
        if self.config is not None:
            lines += self.config
        elif self.password_file is not None:
            lines += ["allow_anonymous false", f"password_file {self.password_file}"]
        else:
            lines.append("allow_anonymous true")
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        assert self.proc.stderr is not None
        ready = threading.Event()
        threading.Thread(target=self._keep_log, args=(self.proc.stderr, ready), daemon=True).start()
        # mosquitto logs "running" once its listeners are open; EOF (an early exit) also ends the wait
        if not ready.wait(timeout=10):
            raise RuntimeError(f"mosquitto never said it was running on {self.port}:\n{self.log}")
        if self.proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {self.proc.wait()}:\n{self.log}")

    def _keep_log(self, pipe: IO[bytes], ready: threading.Event) -> None:
        with pipe, (self.dir / "mosquitto.log").open("ab") as log:
            for line in pipe:
                log.write(line)
                log.flush()
                if line.rstrip().endswith(b" running"):
                    ready.set()
        ready.set()

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def render_ha(template: str, payload: bytes | None = None, *, value: str | None = None) -> str:
    """A Home Assistant MQTT template rendered as Home Assistant would: ``value`` and ``value_json``.

    Home Assistant renders with a sandboxed Jinja environment and more filters of its own; the
    discovery templates use plain Jinja only, which this checks by failing on anything else.
    """
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    variables: dict[str, Any] = {}
    if payload is not None:
        variables.update(value=payload.decode(), value_json=json.loads(payload))
    if value is not None:
        variables["value"] = value
    return env.from_string(template).render(**variables)


class Watcher:
    """An independent aiomqtt subscriber that records everything it receives."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[tuple[str, bytes, bool, float]] = []
        self._changed = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        async for message in self.client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            self.messages.append((str(message.topic), payload, bool(message.retain), loop.time()))
            self._changed.set()

    def on(self, topic: str) -> list[bytes]:
        return [payload for t, payload, _, _ in self.messages if t == topic]

    def last_json(self, topic: str) -> Any:
        found = self.on(topic)
        assert found, f"nothing received on {topic}; got topics {sorted({t for t, *_ in self.messages})}"
        return json.loads(found[-1])

    async def nth(self, topic: str, index: int, *, within_s: float = 10.0) -> bytes:
        """The ``index``-th payload on ``topic`` (from the start of recording), once it has come."""
        async with asyncio.timeout(within_s):
            while len(found := self.on(topic)) <= index:
                self._changed.clear()
                await self._changed.wait()
        return found[index]

    async def wait_for(
        self, topic: str, predicate: Any = None, *, within_s: float = 10.0, after: int = 0
    ) -> bytes:
        """The first payload on ``topic`` (from the start of recording, or after the first ``after``
        of them) that satisfies ``predicate``."""
        async with asyncio.timeout(within_s):
            seen = after
            while True:
                found = self.on(topic)
                for payload in found[seen:]:
                    if predicate is None or predicate(payload):
                        return payload
                seen = len(found)
                self._changed.clear()
                await self._changed.wait()


@contextlib.asynccontextmanager
async def watch(broker: Broker, *topics: str) -> AsyncIterator[Watcher]:
    async with aiomqtt.Client(
        broker.host, broker.port, identifier=f"watcher-{secrets.token_hex(4)}", socket_options=NODELAY
    ) as client:
        for topic in topics or ("#",):
            await client.subscribe(topic, qos=1)
        watcher = Watcher(client)
        task = asyncio.create_task(watcher.run(), name="watcher")
        try:
            yield watcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


async def retained(broker: Broker, topic_filter: str, *, settle_s: float = 0.3) -> dict[str, bytes]:
    """What a newcomer sees: the retained messages under ``topic_filter``."""
    found: dict[str, bytes] = {}
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"late-{secrets.token_hex(4)}") as client:
        await client.subscribe(topic_filter, qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(settle_s):
                async for message in client.messages:
                    if message.retain:
                        payload = message.payload
                        found[str(message.topic)] = (
                            payload if isinstance(payload, bytes) else str(payload).encode()
                        )
    return found


QUICK_ROUTINE = """\
id: {id}
title: Test routine {id}
summary: Short steps on the shiatsu cushion, for tests.
areas: [upper-back, lower-back]
tools: [electric-massager]
steps:
  - title: Upper
    duration: {step_s}
    device: {{head: zone-upper, intensity: 1}}
  - title: Lower with heat
    duration: {step_s}
    device: {{head: zone-lower, intensity: 2, heat: low}}
  - title: Finish
    duration: {step_s}
    device: {{intensity: 1, heat: "off"}}
"""


def write_routine(folder: Path, routine_id: str, *, step_s: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{routine_id}.yaml"
    path.write_text(QUICK_ROUTINE.format(id=routine_id, step_s=step_s))
    return path


def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment for a CLI subprocess: the test's routines, no user config, a private journal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASSAGER_")}
    env.update(
        MASSAGER_CONFIG=str(tmp_path / "no-config.toml"),
        MASSAGER_ROUTINES_DIR=str(tmp_path / "routines"),
        MASSAGER_DEVICES_DIR=str(tmp_path / "devices"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHONUNBUFFERED="1",
    )
    return env


def make_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1: (ca.pem, server.pem, server.key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "massager-ctl test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths
