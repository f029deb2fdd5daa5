"""A bleak scanner backend fed by a Bumble central's advertisement reports.

Use the class bound to a central: ``BleakScanner(backend=central.scanner_backend)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.exc import BleakError
from bumble.core import UUID, AdvertisingData
from bumble.device import Advertisement

from massager_ctl.transports.bumble.client import bumble_uuid_str

if TYPE_CHECKING:
    from massager_ctl.transports.bumble.central import BumbleCentral

__all__ = ["BumbleScannerBackend", "advertisement_data"]

_UUID_LISTS = (
    AdvertisingData.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)
_SERVICE_DATA = (
    AdvertisingData.Type.SERVICE_DATA_16_BIT_UUID,
    AdvertisingData.Type.SERVICE_DATA_32_BIT_UUID,
    AdvertisingData.Type.SERVICE_DATA_128_BIT_UUID,
)


def advertisement_data(advertisement: Advertisement) -> AdvertisementData:
    """Convert a Bumble advertisement (data plus any scan response) to bleak's form."""
    data = advertisement.data
    names = data.get_all(AdvertisingData.Type.COMPLETE_LOCAL_NAME) or data.get_all(
        AdvertisingData.Type.SHORTENED_LOCAL_NAME
    )
    # dict.fromkeys: the same UUID may appear in the advertisement and its scan response.
    service_uuids = list(
        dict.fromkeys(
            bumble_uuid_str(u)
            for kind in _UUID_LISTS
            for uuids in cast(list[list[UUID]], data.get_all(kind))
            for u in uuids
        )
    )
    service_data = {
        bumble_uuid_str(u): bytes(value)
        for kind in _SERVICE_DATA
        for u, value in cast(list[tuple[UUID, bytes]], data.get_all(kind))
    }
    manufacturer_data = {
        company: bytes(value)
        for company, value in data.get_all(AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA)
    }
    tx_powers = data.get_all(AdvertisingData.Type.TX_POWER_LEVEL)
    if tx_powers:
        tx_power: int | None = tx_powers[0]
    elif advertisement.tx_power != Advertisement.TX_POWER_NOT_AVAILABLE:
        tx_power = advertisement.tx_power
    else:
        tx_power = None
    return AdvertisementData(
        local_name=names[0] if names else None,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=service_uuids,
        tx_power=tx_power,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )


class BumbleScannerBackend(BaseBleakScanner):
    """``BaseBleakScanner`` over a Bumble central (see ``BumbleCentral.scanner_backend``).

    The virtual radio has no scan requests, so ``active`` and ``passive`` see the same data.

    Raises:
        BleakError: The class is not bound to a central.
    """

    central: ClassVar[BumbleCentral | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        central = type(self).central
        if central is None:
            raise BleakError("BumbleScannerBackend is unbound: pass backend=<BumbleCentral>.scanner_backend")
        self._radio = central

    async def start(self) -> None:
        """Clear the seen devices and start receiving advertisements."""
        self.seen_devices = {}
        await self._radio.add_listener(self._on_advertisement)

    async def stop(self) -> None:
        """Stop receiving advertisements."""
        await self._radio.remove_listener(self._on_advertisement)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        adv = advertisement_data(advertisement)
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        address = advertisement.address
        device = self.create_or_update_device(
            str(address), address.to_string(with_type_qualifier=False), adv.local_name, address, adv
        )
        self.call_detection_callbacks(device, adv)
