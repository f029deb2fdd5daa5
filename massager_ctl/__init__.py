"""massager-ctl: a controller for consumer electric back massagers."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # looked up on first use: package metadata costs tens of milliseconds at every start-up
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("massager-ctl")
        except PackageNotFoundError:  # running from a checkout that was never installed
            return "0.0.0+unknown"
    raise AttributeError(f"module 'massager_ctl' has no attribute {name!r}")
