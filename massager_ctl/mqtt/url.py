"""Broker URLs: ``mqtt://[user[:password]@]host[:port]`` and ``mqtts://`` (TLS).

The password may also come from ``MASSAGER_MQTT_PASSWORD``. It is kept out of
every repr, log line and error message: code that shows a broker to a person
uses :attr:`BrokerConfig.display`, which never includes it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from massager_ctl.errors import ConfigError

PASSWORD_ENV = "MASSAGER_MQTT_PASSWORD"
_FORM = "mqtt://[user[:password]@]host[:port] or mqtts://...[?ca=/path/to/ca.pem]"
_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Where the broker is and how to log in. ``password`` never shows in ``repr``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: Path | None = None

    @property
    def display(self) -> str:
        """The broker as a URL without the password, for logs and messages."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"


def parse_broker_url(
    url: str,
    *,
    ca_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> BrokerConfig:
    """Parse a broker URL.

    A password in the URL wins over ``MASSAGER_MQTT_PASSWORD``; the environment
    password is only used when the URL names a user. ``ca_file`` (or ``?ca=``)
    is the CA bundle that signs the broker's certificate for ``mqtts://``.

    Raises:
        ConfigError: the URL is not of the expected form (the message never
            contains the password).
    """
    env = os.environ if environ is None else environ
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _DEFAULT_PORTS:
        raise ConfigError(f"broker URL must start with mqtt:// or mqtts://; expected {_FORM}")
    scheme = scheme.lower()
    try:
        parts = urlsplit(f"{scheme}://{rest}")
    except ValueError:
        raise ConfigError(f"broker URL is malformed; expected {_FORM}") from None  # the cause may quote it
    # netloc is split by hand: .port and .password would quote the netloc (secret included) in errors.
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        userinfo, hostport = "", netloc
    username: str | None = None
    password: str | None = None
    if userinfo:
        user_raw, colon, pass_raw = userinfo.partition(":")
        username = unquote(user_raw) or None
        password = unquote(pass_raw) if colon else None
        if username is None:
            raise ConfigError(f"broker URL has a password but no user name; expected {_FORM}")
    host, port = _host_port(hostport, _DEFAULT_PORTS[scheme])
    if parts.path not in ("", "/"):
        raise ConfigError(f"broker URL takes no path (got {parts.path!r}); expected {_FORM}")
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "ca":
            raise ConfigError(f"unknown broker URL option {key!r} (known: ca); expected {_FORM}")
        ca_file = ca_file or Path(value)
    if ca_file is not None and scheme != "mqtts":
        raise ConfigError("a CA file only applies to mqtts:// (TLS) brokers")
    if ca_file is not None and not ca_file.is_file():
        raise ConfigError(f"CA file {str(ca_file)!r} does not exist")
    if username is not None and password is None:
        password = env.get(PASSWORD_ENV) or None
    return BrokerConfig(
        host=host, port=port, username=username, password=password, tls=scheme == "mqtts", ca_file=ca_file
    )


def _host_port(hostport: str, default_port: int) -> tuple[str, int]:
    if hostport.startswith("["):
        host, bracket, tail = hostport[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise ConfigError(f"broker URL has a malformed IPv6 address; expected {_FORM}")
        port_text = tail[1:] if tail else ""
    else:
        host, _, port_text = hostport.partition(":")
    if not host:
        raise ConfigError(f"broker URL has no host; expected {_FORM}")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"broker port {port_text!r} is not a number from 1 to 65535; expected {_FORM}")
    return host, int(port_text)
