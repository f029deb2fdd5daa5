"""Richmat WiLinke bed bases: ``6E 01 00 CMD CK`` frames, and nothing comes back.

Facts from public reverse engineering (see ``docs/devices/richmat.md``): ``CK = (CMD + 0x6F) &
0xFF``. The base reports no state at all, so whatever the controller sends can only be assumed to
have happened. Pure functions; only :class:`FrameError` escapes.
"""

from __future__ import annotations

from dataclasses import dataclass

from massager_ctl.protocol.messages import FrameError

HEADER = bytes((0x6E, 0x01, 0x00))
FRAME_LEN = 5

CMD_MASSAGE_TOGGLE = 0x5D
CMD_HEAD_STEP = 0x4C
CMD_FOOT_STEP = 0x4E
CMD_PATTERN_STEP = 0x48
CMD_END = 0x6E
#: Discrete levels 0 (off) to 3 of each zone.
HEAD_LEVELS = (0x98, 0x99, 0x9A, 0x9B)
FOOT_LEVELS = (0x9C, 0x9D, 0x9E, 0x9F)
KNOWN_COMMANDS = frozenset(
    (CMD_MASSAGE_TOGGLE, CMD_HEAD_STEP, CMD_FOOT_STEP, CMD_PATTERN_STEP, CMD_END, *HEAD_LEVELS, *FOOT_LEVELS)
)


@dataclass(frozen=True, slots=True)
class RichmatCommand:
    """One command byte; see the ``CMD_*`` names and the level tables."""

    command: int

    @classmethod
    def head_level(cls, level: int) -> RichmatCommand:
        """The head massage level 0-3 command.

        Raises:
            FrameError: level outside 0-3.
        """
        return cls(_level(HEAD_LEVELS, level, "head"))

    @classmethod
    def foot_level(cls, level: int) -> RichmatCommand:
        """The foot massage level 0-3 command.

        Raises:
            FrameError: level outside 0-3.
        """
        return cls(_level(FOOT_LEVELS, level, "foot"))


def _level(table: tuple[int, ...], level: int, zone: str) -> int:
    if not 0 <= level < len(table):
        raise FrameError(f"{zone} massage level {level} is outside 0-{len(table) - 1}", kind="out_of_range")
    return table[level]


def checksum(command: int) -> int:
    return (command + 0x6F) & 0xFF


def encode(message: RichmatCommand) -> bytes:
    """The 5-byte frame of a command.

    Raises:
        FrameError: a command byte this family does not know.
    """
    if message.command not in KNOWN_COMMANDS:
        raise FrameError(
            f"command {message.command:#x} is not a known Richmat massage command", kind="unknown_op"
        )
    return HEADER + bytes((message.command, checksum(message.command)))


def decode_command(frame: bytes) -> RichmatCommand:
    """Read a command frame back (for wire logs and tests).

    Raises:
        FrameError: not 5 bytes, a wrong header, a bad checksum or an unknown command.
    """
    if len(frame) != FRAME_LEN:
        raise FrameError(f"a frame is {FRAME_LEN} bytes, got {len(frame)}", kind="bad_length")
    if frame[:3] != HEADER:
        raise FrameError(f"header {frame[:3].hex(' ')} is not 6e 01 00", kind="bad_sync")
    if frame[4] != checksum(frame[3]):
        raise FrameError(f"checksum {frame[4]:#04x}, expected {checksum(frame[3]):#04x}", kind="bad_checksum")
    if frame[3] not in KNOWN_COMMANDS:
        raise FrameError(f"unknown command {frame[3]:#04x}", kind="unknown_op")
    return RichmatCommand(frame[3])
