"""Wire codecs of the protocol families in ``docs/protocols.md``: pure, typed, no I/O.

``mbin`` (binary frames over BLE) and ``mascii`` (ASCII lines over serial) share the
message classes of :mod:`massager_ctl.protocol.messages`. Every decoder either
returns a message or raises :class:`~massager_ctl.protocol.messages.FrameError`,
a :class:`~massager_ctl.errors.ProtocolError`.

The real product families (``keeson``, ``reverie``, ``theragun``, ``rongtai``, ``richmat``; see
``docs/devices/``) have their own message types in their modules and the same error contract.
"""

from massager_ctl.protocol import keeson, mascii, mbin, reverie, richmat, rongtai, theragun
from massager_ctl.protocol.messages import (
    Ack,
    Command,
    CommandName,
    FrameError,
    GetStatus,
    Hello,
    IdentityReport,
    Limits,
    Message,
    Nak,
    Ping,
    Report,
    SetDirection,
    SetHead,
    SetHeat,
    SetIntensity,
    SetMode,
    SettingCommand,
    StatusReport,
    Stop,
)

__all__ = [
    "Ack",
    "Command",
    "CommandName",
    "FrameError",
    "GetStatus",
    "Hello",
    "IdentityReport",
    "Limits",
    "Message",
    "Nak",
    "Ping",
    "Report",
    "SetDirection",
    "SetHead",
    "SetHeat",
    "SetIntensity",
    "SetMode",
    "SettingCommand",
    "StatusReport",
    "Stop",
    "keeson",
    "mascii",
    "mbin",
    "reverie",
    "richmat",
    "rongtai",
    "theragun",
]
