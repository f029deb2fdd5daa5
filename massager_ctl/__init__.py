"""massager-ctl: a controller for consumer electric back massagers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("massager-ctl")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
