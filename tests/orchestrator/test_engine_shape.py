"""The engine's shape: small files, composed objects, and one place where states change."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import massager_ctl.orchestrator

ENGINE = Path(massager_ctl.orchestrator.__file__).parent
FILES = sorted(ENGINE.glob("*.py"))
MAX_LINES = 350


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_engine_file_can_be_read_in_one_sitting(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines < MAX_LINES, f"{path.name} has {lines} lines; split it into collaborating objects"


def _engine_classes() -> list[type]:
    classes = []
    for path in FILES:
        module = importlib.import_module(f"massager_ctl.orchestrator.{path.stem}")
        classes += [
            c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module.__name__
        ]
    return classes


def _is_mixin(base: type) -> bool:
    """Leaves abstract callbacks to its subclasses, or declares private attributes it never sets."""
    unset = [
        name
        for name in vars(base).get("__annotations__", {})
        if name.startswith("_") and not name.startswith("__") and name not in vars(base)
    ]
    return bool(getattr(base, "__abstractmethods__", None)) or bool(unset)


def test_no_engine_class_inherits_from_a_mixin() -> None:
    # Composition: the session's parts are objects it holds, not bases that reach into its state.
    for cls in _engine_classes():
        for base in cls.__mro__[1:]:
            if base.__module__.startswith("massager_ctl.orchestrator") and _is_mixin(base):
                pytest.fail(f"{cls.__qualname__} inherits from the mix-in {base.__qualname__}")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_class_declares_private_attributes_it_does_not_set(path: Path) -> None:
    # A bare `_thing: T` in a class body is how a mix-in declares another class's private state.
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    assert not (item.target.id.startswith("_") and item.value is None), (
                        f"{path.name}: {node.name} declares {item.target.id} without owning it"
                    )


def test_the_session_state_is_assigned_only_by_the_transition_table() -> None:
    writers = []
    for path in FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                targets = (
                    node.targets
                    if isinstance(node, ast.Assign)
                    else [node.target]
                    if isinstance(node, ast.AnnAssign | ast.AugAssign)
                    else []
                )
                for target in targets:
                    if isinstance(target, ast.Attribute) and target.attr in ("_state", "state"):
                        writers.append((path.name, func.name))
    assert sorted(writers) == [("timeline.py", "__init__"), ("timeline.py", "enter")]
