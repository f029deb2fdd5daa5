"""The device and routine catalogs: built-in YAML files plus the user's own.

Built-in files ship inside the wheel (``massager_ctl/catalog/devices`` and
``.../routines``); in a source checkout they are the top-level ``devices/`` and
``routines/`` folders. A user file whose id matches a built-in one wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from massager_ctl.catalog.yamlsource import load_yaml, read_source, validate
from massager_ctl.errors import CatalogError, ConfigError, Problem
from massager_ctl.models import DeviceProfile, Routine

ModelT = TypeVar("ModelT", bound=BaseModel)

_PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_DIR = _PACKAGE_DIR.parent.parent


def builtin_dir(kind: str) -> Path:
    """Where the built-in ``devices`` or ``routines`` live: in the wheel, else the checkout."""
    for candidate in (_PACKAGE_DIR / kind, _CHECKOUT_DIR / kind):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"the built-in {kind} catalog is missing (looked in {_PACKAGE_DIR / kind})")


def load_file(model: type[ModelT], path: Path) -> ModelT:
    """Load and validate one YAML file.

    Raises:
        CatalogError: every problem found, each with file, line and field.
    """
    data, lines, problems = load_yaml(read_source(path), str(path))
    return validate(model, data, lines, str(path), problems)


def load_routine(path: Path) -> Routine:
    return load_file(Routine, path)


def load_device(path: Path) -> DeviceProfile:
    return load_file(DeviceProfile, path)


class Catalog:
    """Device profiles and routines by id, built-ins overlaid with the user's folders.

    A broken file in a user folder is passed to ``warn`` and skipped, so one bad
    file of the user's cannot stop every command; without ``warn`` it is an error.
    A broken built-in file is always an error.
    """

    def __init__(
        self,
        *,
        device_dirs: Iterable[Path] = (),
        routine_dirs: Iterable[Path] = (),
        warn: Callable[[Problem], None] | None = None,
    ) -> None:
        self._device_dirs = [builtin_dir("devices"), *device_dirs]
        self._routine_dirs = [builtin_dir("routines"), *routine_dirs]
        self._warn = warn
        self._devices: dict[str, DeviceProfile] | None = None
        self._routines: dict[str, Routine] | None = None

    def devices(self) -> dict[str, DeviceProfile]:
        if self._devices is None:
            self._devices = _load_all(DeviceProfile, self._device_dirs, warn=self._warn)
        return self._devices

    def routines(self) -> dict[str, Routine]:
        if self._routines is None:
            self._routines = _load_all(Routine, self._routine_dirs, warn=self._warn)
        return self._routines

    def device(self, model_id: str) -> DeviceProfile:
        """The profile of a model id.

        Raises:
            ConfigError: no such model; the message lists the known ones.
        """
        try:
            return self.devices()[model_id]
        except KeyError:
            known = ", ".join(sorted(self.devices()))
            raise ConfigError(f"unknown model {model_id!r}; known models: {known}") from None

    def routine(self, ref: str) -> Routine:
        """A routine by library id, or from a YAML file path.

        Raises:
            ConfigError: no routine with that id and no such file.
            CatalogError: the file does not validate.
        """
        path = Path(ref)
        if ref.endswith((".yaml", ".yml")) or path.is_file():
            if not path.exists():  # anything else (a directory, too big) is the loader's located problem
                raise ConfigError(f"routine file {ref!r} does not exist")
            return load_routine(path)
        try:
            return self.routines()[ref]
        except KeyError:
            known = ", ".join(sorted(self.routines()))
            raise ConfigError(f"unknown routine {ref!r}; library routines: {known}") from None

    def library_routine(self, routine_id: str) -> Routine:
        """A routine by library id only: never a path, so untrusted callers cannot make it open files.

        Raises:
            ConfigError: not an id, or no library routine has it; the message lists the known ids.
            CatalogError: a library file does not validate.
        """
        if not _ROUTINE_ID.fullmatch(routine_id):
            raise ConfigError(f"{routine_id[:100]!r} is not a routine id (lowercase letters, digits and '-')")
        try:
            return self.routines()[routine_id]
        except KeyError:
            known = ", ".join(sorted(self.routines()))
            raise ConfigError(f"unknown routine {routine_id!r}; library routines: {known}") from None


_ROUTINE_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


def _load_all(
    model: type[ModelT], dirs: list[Path], *, warn: Callable[[Problem], None] | None
) -> dict[str, ModelT]:
    found: dict[str, ModelT] = {}
    problems: list[Problem] = []
    for position, folder in enumerate(dirs):
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            try:
                item = load_file(model, path)
            except CatalogError as e:
                if position > 0 and warn is not None:  # a user folder (the built-ins come first)
                    for problem in e.problems:
                        warn(problem)
                else:
                    problems.extend(e.problems)
                continue
            found[item.id] = item  # type: ignore[attr-defined]  # later folders (the user's) win
    if problems:
        raise CatalogError(problems)
    return found
