"""What every command needs: the settings and the catalog built from them."""

from __future__ import annotations

from functools import cache

from massager_ctl.catalog import Catalog
from massager_ctl.config import Settings, load_settings


@cache
def settings() -> Settings:
    return load_settings()


@cache
def catalog() -> Catalog:
    s = settings()
    return Catalog(device_dirs=[s.user_devices_dir], routine_dirs=[s.user_routines_dir])
