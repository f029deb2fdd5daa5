"""Load YAML keeping the line of every node, and turn validation errors into located problems.

PyYAML's composer gives each node a start mark; we build plain Python data from
the node tree and remember, for every path into it, the line it came from. A
pydantic error's ``loc`` is then walked along the data to the deepest node that
exists, so a missing field points at its parent and an unknown key at itself.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from massager_ctl.errors import CatalogError, Problem

Path = tuple[int | str, ...]
ModelT = TypeVar("ModelT", bound=BaseModel)


class _LineMap:
    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}


def load_yaml(text: str, filename: str) -> tuple[Any, dict[Path, int], list[Problem]]:
    """Parse one YAML document into plain data, a map of path → 1-based line, and structure problems.

    Duplicate and non-text keys are returned as problems (the first value is kept)
    so that validation can still report everything else in the same pass.

    Raises:
        CatalogError: broken YAML syntax or an empty file.
    """
    loader = yaml.SafeLoader(text)
    linemap = _LineMap()
    problems: list[Problem] = []
    try:
        root = loader.get_single_node()
        data = None if root is None else _build(root, (), linemap, loader, problems, filename)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        raise CatalogError([Problem(filename, line, "yaml", f"{e.problem or e}")]) from e
    except yaml.YAMLError as e:
        raise CatalogError([Problem(filename, 1, "yaml", str(e))]) from e
    finally:
        loader.dispose()
    if root is None:
        raise CatalogError([Problem(filename, 1, "yaml", "the file is empty")])
    return data, linemap.lines, problems


def _build(
    node: yaml.Node,
    path: Path,
    linemap: _LineMap,
    loader: yaml.SafeLoader,
    problems: list[Problem],
    filename: str,
) -> Any:
    linemap.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            field = ".".join(str(p) for p in (*path, key)) or "(top)"
            if not isinstance(key, str):
                problems.append(Problem(filename, line, field, "keys must be text"))
                continue
            if key in result:
                first = linemap.lines.get((*path, key), line)
                problems.append(
                    Problem(filename, line, field, f"duplicate key (first given on line {first})")
                )
                continue
            linemap.lines[(*path, key)] = line
            result[key] = _build(value_node, (*path, key), linemap, loader, problems, filename)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, i), linemap, loader, problems, filename) for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def validate(
    model: type[ModelT], data: Any, lines: dict[Path, int], filename: str, problems: list[Problem]
) -> ModelT:
    """Validate data into ``model``; every error becomes a ``FILE:LINE: field: message`` problem.

    ``problems`` are those already found (by :func:`load_yaml`); they are reported together.

    Raises:
        CatalogError: with one problem per distinct error, sorted by line.
    """
    problems = list(problems)
    try:
        result = model.model_validate(data)
    except ValidationError as e:
        for error in e.errors(include_url=False):
            path = _data_path(data, error["loc"])
            line = _line_for(path, lines)
            field = ".".join(str(p) for p in path) or "(top)"
            if error["type"] == "missing":
                field = ".".join(str(p) for p in (*path, error["loc"][-1]))
            message = error["msg"].removeprefix("Value error, ")
            problem = Problem(filename, line, field, message)
            if problem not in problems:
                problems.append(problem)
        raise CatalogError(sorted(problems, key=lambda p: p.line)) from e
    if problems:
        raise CatalogError(problems)
    return result


def _data_path(data: Any, loc: tuple[int | str, ...]) -> Path:
    """Keep the parts of a pydantic ``loc`` that step into the data (drops union tags)."""
    path: list[int | str] = []
    node = data
    for part in loc:
        in_mapping = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            node = node[part]
            path.append(part)
    return tuple(path)


def _line_for(path: Path, lines: dict[Path, int]) -> int:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)
