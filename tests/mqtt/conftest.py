"""Fixtures: a real mosquitto per test (anonymous, or with a password file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mqtt.mqtt_support import PASSWORD, USER, Broker, free_port, make_tls_files, write_password_file


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(dir=tmp_path / "broker", port=free_port())
    b.dir.mkdir()
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def auth_broker(tmp_path: Path) -> Iterator[Broker]:
    folder = tmp_path / "auth-broker"
    folder.mkdir()
    password_file = folder / "passwd"
    write_password_file(password_file, USER, PASSWORD)
    b = Broker(dir=folder, port=free_port(), password_file=password_file)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[Broker]:
    folder = tmp_path / "tls-broker"
    folder.mkdir()
    b = Broker(dir=folder, port=free_port(), tls=make_tls_files(folder))
    b.start()
    try:
        yield b
    finally:
        b.stop()
