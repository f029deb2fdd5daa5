"""The error tree drawn in ``errors.py`` is the code's, and every exception the project defines is in it."""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass

import pytest

import firmware_sim
import massager_ctl
from massager_ctl import errors

_LINE = re.compile(r"^(?P<prefix>(?:[│ ]   )*(?:[├└]── )?)(?P<name>\w+)(?P<rest>.*)$")
_MODULE = re.compile(r"\[(?P<module>[\w.]+)\]")
_EXTRA = re.compile(r"\+(?P<base>\w+)")


@dataclass(frozen=True)
class Drawn:
    name: str
    module: str
    parent: str | None
    extra: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.module}.{self.name}"


def _drawing() -> list[Drawn]:
    doc = errors.__doc__
    assert doc is not None
    block = doc.split("::\n", 1)[1]
    lines = [line[4:] for line in block.strip("\n").split("\n\n", 1)[0].splitlines()]
    drawn: list[Drawn] = []
    parents: list[str] = []  # the key of the class drawn at each depth
    for line in lines:
        match = _LINE.match(line)
        assert match is not None, f"cannot read the tree line {line!r}"
        depth = len(match["prefix"]) // 4
        module_hint = _MODULE.search(match["rest"])
        module = (
            module_hint["module"]
            if module_hint
            else ("builtins" if hasattr(builtins, match["name"]) else "massager_ctl.errors")
        )
        extra = tuple(m["base"] for m in _EXTRA.finditer(match["rest"].split("  ")[0] + " "))
        del parents[depth:]
        item = Drawn(match["name"], module, parents[-1] if parents else None, extra)
        drawn.append(item)
        parents.append(item.key)
    return drawn


def _project_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in (massager_ctl, firmware_sim):
        names = [package.__name__] + [
            m.name for m in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
        ]
        for name in names:
            if name.endswith(".__main__"):  # running it would start the CLI
                continue
            module = importlib.import_module(name)
            for _, value in inspect.getmembers(module, inspect.isclass):
                if issubclass(value, BaseException) and value.__module__ == name:
                    found[f"{name}.{value.__qualname__}"] = value
    return found


def _resolve(key: str, known: dict[str, type[BaseException]]) -> type[BaseException]:
    if key.startswith("builtins."):
        value = getattr(builtins, key.removeprefix("builtins."))
        assert isinstance(value, type)
        assert issubclass(value, BaseException)
        return value
    return known[key]


def test_the_drawing_matches_each_class_bases() -> None:
    known = _project_exceptions()
    drawn = _drawing()
    assert drawn[0].key == "builtins.Exception"
    for item in drawn[1:]:
        assert item.key in known or item.module == "builtins", f"{item.key} is drawn but not defined"
        cls = _resolve(item.key, known)
        assert item.parent is not None
        bases = (_resolve(item.parent, known), *(_resolve(f"builtins.{b}", known) for b in item.extra))
        assert cls.__bases__ == bases, f"{item.key}: drawn as {bases}, defined with {cls.__bases__}"


def test_every_exception_the_project_defines_is_drawn() -> None:
    drawn = {item.key for item in _drawing()}
    missing = sorted(set(_project_exceptions()) - drawn)
    assert not missing, f"not in the tree of errors.py: {missing}"


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (errors.CommandTimeoutError, TimeoutError),
        (errors.LinkLostError, ConnectionError),
        (errors.ConnectError, ConnectionError),
        (errors.DeviceNotFoundError, ConnectionError),
        (errors.BrokerError, ConnectionError),
    ],
)
def test_timeouts_and_lost_links_are_also_the_builtin_kinds(
    error: type[errors.MassagerError], builtin: type[Exception]
) -> None:
    assert issubclass(error, errors.MassagerError)
    assert issubclass(error, builtin)


def test_errors_raised_outside_errors_py_are_in_the_tree() -> None:
    from massager_ctl.orchestrator.commands import CommandError
    from massager_ctl.orchestrator.controls import ControlError

    assert CommandError is errors.CommandError
    assert ControlError is errors.ControlError
