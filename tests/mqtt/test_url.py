"""Broker URL parsing, and that the password never leaks into reprs or messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from massager_ctl.errors import ConfigError
from massager_ctl.mqtt.url import PASSWORD_ENV, BrokerConfig, parse_broker_url

SECRET = "hunter2-Secret"


def test_plain_host_takes_the_default_port() -> None:
    assert parse_broker_url("mqtt://broker.local", environ={}) == BrokerConfig(host="broker.local", port=1883)


def test_user_password_and_port() -> None:
    cfg = parse_broker_url(f"mqtt://alice:{SECRET}@10.0.0.2:11883", environ={})
    assert (cfg.host, cfg.port, cfg.username, cfg.tls) == ("10.0.0.2", 11883, "alice", False)
    assert cfg.password == SECRET


def test_percent_encoded_credentials_are_decoded() -> None:
    cfg = parse_broker_url("mqtt://al%40ce:p%3Aw%2Fd@h", environ={})
    assert (cfg.username, cfg.password) == ("al@ce", "p:w/d")


def test_mqtts_uses_tls_and_8883(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    cfg = parse_broker_url(f"mqtts://h?ca={ca}", environ={})
    assert (cfg.tls, cfg.port, cfg.ca_file) == (True, 8883, ca)
    assert parse_broker_url("mqtts://h", ca_file=ca, environ={}).ca_file == ca


def test_ipv6_host() -> None:
    cfg = parse_broker_url("mqtt://[::1]:1999", environ={})
    assert (cfg.host, cfg.port) == ("::1", 1999)
    assert cfg.display == "mqtt://[::1]:1999"


def test_password_from_environment_only_with_a_user() -> None:
    env = {PASSWORD_ENV: SECRET}
    assert parse_broker_url("mqtt://bob@h", environ=env).password == SECRET
    assert parse_broker_url("mqtt://h", environ=env).password is None
    assert parse_broker_url("mqtt://bob:inurl@h", environ=env).password == "inurl"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h", "must start with mqtt:// or mqtts://"),
        ("h:1883", "must start with mqtt:// or mqtts://"),
        ("mqtt://", "no host"),
        (f"mqtt://u:{SECRET}@", "no host"),
        ("mqtt://h:99999", "not a number from 1 to 65535"),
        (f"mqtt://u:{SECRET}@h:port", "not a number from 1 to 65535"),
        ("mqtt://h/some/path", "takes no path"),
        ("mqtt://h?tls=1", "unknown broker URL option 'tls'"),
        (f"mqtt://:{SECRET}@h", "no user name"),
        ("mqtt://h?ca=/etc/hosts", "only applies to mqtts://"),
        ("mqtts://h?ca=/nonexistent/ca.pem", "does not exist"),
        (f"mqtt://u:{SECRET}@[::1", "malformed"),
    ],
)
def test_bad_urls_are_explained_without_the_password(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_broker_url(url, environ={})
    assert message in str(info.value)
    assert "mqtt://[user[:password]@]host[:port]" in str(info.value) or "CA file" in str(info.value)
    assert SECRET not in str(info.value)
    assert info.value.__cause__ is None or SECRET not in str(info.value.__cause__)


def test_password_never_in_repr_or_display() -> None:
    cfg = parse_broker_url(f"mqtts://carol:{SECRET}@h:8884", environ={})
    assert SECRET not in repr(cfg)
    assert SECRET not in str(cfg)
    assert cfg.display == "mqtts://carol@h:8884"
    env_cfg = parse_broker_url("mqtt://carol@h", environ={PASSWORD_ENV: SECRET})
    assert SECRET not in repr(env_cfg)
