"""Bumble's virtual controller with the one LE behaviour the simulator needs and it lacks."""

from __future__ import annotations

import asyncio

from bumble import hci
from bumble.controller import Controller

__all__ = ["VirtualController"]


class VirtualController(Controller):
    """A ``bumble.controller.Controller`` whose LE Create Connection Cancel works.

    Bumble's controller acknowledges the cancel but keeps initiating and never reports the
    end of the attempt, so a central that gave up on an absent peripheral could never connect
    again. Here the attempt ends as the Core spec says (Vol 4, Part E, 7.8.13): Command
    Complete, then LE Connection Complete with status Unknown Connection Identifier.
    """

    def on_hci_le_create_connection_cancel_command(
        self, command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        pending = self.pending_le_connection
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        failed = hci.HCI_LE_Connection_Complete_Event(
            status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
            connection_handle=0,
            role=hci.Role.CENTRAL,
            peer_address_type=pending.peer_address_type,
            peer_address=pending.peer_address,
            connection_interval=0,
            peripheral_latency=0,
            supervision_timeout=0,
            central_clock_accuracy=0,
        )
        # Scheduled so it reaches the host after this command's Command Complete.
        asyncio.get_running_loop().call_soon(self.send_hci_packet, failed)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)
