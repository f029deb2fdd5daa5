"""bleak backends over a Bumble host: an unmodified ``BleakClient`` / ``BleakScanner`` on any HCI controller.

``bumble_central(hci=...)`` opens a central on a Bumble HCI transport (a USB dongle, the
simulator's HCI port); ``central.client_backend`` / ``central.scanner_backend`` go to
``BleTransport(..., backend=..., scanner_backend=...)`` or straight to bleak. The simulator's
virtual radio builds its own central the same way and hands its backends over likewise.
Needs the optional ``bumble`` package (``pip install 'massager-ctl[sim]'``).
"""

from massager_ctl.transports.bumble.central import BumbleCentral, bumble_central
from massager_ctl.transports.bumble.client import BumbleClientBackend
from massager_ctl.transports.bumble.scanner import BumbleScannerBackend

__all__ = ["BumbleCentral", "BumbleClientBackend", "BumbleScannerBackend", "bumble_central"]
