"""Load YAML keeping the line of every node, and turn validation errors into located problems.

PyYAML's composer gives each node a start mark; we build plain Python data from
the node tree and remember, for every path into it, the line it came from. A
pydantic error's ``loc`` is then walked along the data to the deepest node that
exists, so a missing field points at its parent and an unknown key at itself.

Files come from users (and once came from remote commands), so the input is
bounded before it can cost much: the file size, the nesting depth and the number
of values, aliases expanded included. Each limit is refused as a located problem.

PyYAML's scanner and parser in pure Python take about 0.4 s for the built-in
catalog, most of a catalog command's time; when PyYAML has libyaml, its C parser
feeds our composer instead (the same events, so the same data and lines), ten
times faster. Text it reads otherwise, and every problem, goes to the pure-Python
loader, so problems are reported the one way.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Hashable
from pathlib import Path as FilePath
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.composer import Composer, ComposerError
from yaml.constructor import SafeConstructor
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import ScannerError

try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml: the pure-Python loader does it all
    CParser = None  # type: ignore[assignment,misc]

from massager_ctl.errors import CatalogError, Problem

Path = tuple[int | str, ...]
ModelT = TypeVar("ModelT", bound=BaseModel)

#: The largest catalog file read: the biggest shipped one is about 10 KB.
MAX_FILE_BYTES = 256 * 1024
#: Deepest nesting of lists and mappings, counted through aliases (shipped files reach 7).
MAX_DEPTH = 32
#: Most values in one document, aliases expanded (shipped files hold at most about 420).
MAX_NODES = 5_000


class _LineMap:
    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}
        self.nodes = 0


class _Bounds(Composer):
    """A composer that stops at :data:`MAX_DEPTH` levels and :data:`MAX_NODES` nodes.

    PyYAML composes recursively and keeps every node, so without these bounds a
    deeply nested file overflows the stack and a huge one fills memory before
    any of our checks could run.
    """

    def __init__(self) -> None:
        Composer.__init__(self)  # not super(): libyaml's parser comes next in one loader, and wants the text
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[attr-defined]  # the parser's, beside this in a loader
        if not isinstance(event, yaml.AliasEvent):
            self._nodes += 1
            if self._nodes > MAX_NODES:
                raise ComposerError(None, None, _too_many_values(), event.start_mark)
        if self._depth >= MAX_DEPTH:
            raise ComposerError(None, None, _too_deep(), event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _BoundedLoader(_Bounds, yaml.SafeLoader):
    """The pure-Python SafeLoader, bounded.

    Its scanner looks ahead over every open ``[`` or ``{`` for a possible key,
    which is slow long before the composer sees the depth, so flow nesting is
    bounded there too.
    """

    def __init__(self, text: str) -> None:
        yaml.SafeLoader.__init__(self, text)
        _Bounds.__init__(self)

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise ScannerError(None, None, _too_deep(), self.get_mark())
        super().fetch_flow_collection_start(TokenClass)


if CParser is not None:

    class _FastLoader(_Bounds, CParser, SafeConstructor, Resolver):
        """libyaml's C parser under our bounded composer (``_Bounds`` comes first: not libyaml's own).

        libyaml reads events one at a time as the composer asks, and refuses flow
        nesting past 1000 levels by itself, so the bounds still stop a hostile file early.
        """

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _Bounds.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

        def compose_scalar_node(self, anchor: Any) -> yaml.ScalarNode:
            event: Any = self.peek_event()
            if event.value == "" and not event.style:
                # an empty plain value (a bare ``-``, ``---``, ``!tag``) has no text of its own to place,
                # and libyaml places it on another line than PyYAML: leave the document to PyYAML
                raise ComposerError(None, None, "an empty plain value, left to PyYAML", None)
            return super().compose_scalar_node(anchor)


#: Text libyaml may read otherwise than PyYAML, found by comparing the two on generated text: a tab
#: (PyYAML refuses more of them), a byte-order mark (libyaml drops one anywhere), ``?`` (libyaml
#: takes more explicit keys in flow), a block scalar's header running into a comment, and the
#: characters PyYAML refuses, with its own message. None of the built-in files has any of them; a
#: user's file that has one is just read more slowly.
_LEFT_TO_PYTHON = re.compile(f"[\t\ufeff?]|[|>][-+0-9]*#|{Reader.NON_PRINTABLE.pattern}")


def read_source(path: FilePath) -> str:
    """The text of one catalog file, refused unread unless a regular file of at most :data:`MAX_FILE_BYTES`.

    Raises:
        CatalogError: the file cannot be read, is not a regular file, is too big or is not UTF-8.
    """
    name = str(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise CatalogError([Problem(name, 1, "file", "is a directory, not a YAML file")])
        if not stat.S_ISREG(info.st_mode):
            raise CatalogError([Problem(name, 1, "file", "is not a regular file")])
        if info.st_size > MAX_FILE_BYTES:
            raise CatalogError([_too_big(name, info.st_size)])
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise CatalogError([Problem(name, 1, "file", f"cannot read: {e.strerror or e}")]) from e
    if len(data) > MAX_FILE_BYTES:  # it grew after the size was checked
        raise CatalogError([_too_big(name, len(data))])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise CatalogError([Problem(name, line, "file", f"not UTF-8 text: {e.reason}")]) from e


def _too_big(name: str, size: int) -> Problem:
    return Problem(
        name, 1, "file", f"the file is {size:,} bytes, more than the limit of {MAX_FILE_BYTES // 1024} KiB"
    )


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep (aliases included)"


def _too_many_values() -> str:
    return f"more than {MAX_NODES:,} values (aliases expanded)"


def load_yaml(
    text: str, filename: str, *, libyaml: bool = True
) -> tuple[Any, dict[Path, int], list[Problem]]:
    """Parse one YAML document into plain data, a map of path → 1-based line, and structure problems.

    Duplicate and non-text keys are returned as problems (the first value is kept)
    so that validation can still report everything else in the same pass.

    Args:
        text: the document.
        filename: the name problems give.
        libyaml: parse with libyaml when PyYAML has it; ``False`` keeps to the
            pure-Python parser (the results are the same, only slower).

    Raises:
        CatalogError: broken YAML syntax, a character YAML does not allow, an empty
            file, nesting deeper than :data:`MAX_DEPTH`, more than :data:`MAX_NODES`
            values or an alias that contains itself.
    """
    if libyaml and CParser is not None and not _LEFT_TO_PYTHON.search(text):
        loader = _FastLoader(text)
        linemap = _LineMap()
        problems: list[Problem] = []
        try:
            root = loader.get_single_node()
            if root is not None:
                return _build(root, (), linemap, loader, problems, filename), linemap.lines, problems
        except yaml.YAMLError:
            pass  # the pure-Python loader below reports it, located the one way
        finally:
            loader.dispose()
    return _load_yaml_python(text, filename)


def _load_yaml_python(text: str, filename: str) -> tuple[Any, dict[Path, int], list[Problem]]:
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        message = f"character #x{e.character:04x} is not allowed in YAML ({e.reason})"
        raise CatalogError([Problem(filename, line, "yaml", message)]) from e
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
    loader: SafeConstructor,
    problems: list[Problem],
    filename: str,
    within: tuple[yaml.Node, ...] = (),
) -> Any:
    line = node.start_mark.line + 1
    # the composer shares one node per anchor, so only here do aliases multiply
    linemap.nodes += 1
    if linemap.nodes > MAX_NODES:
        raise CatalogError([Problem(filename, line, _field(path), _too_many_values())])
    if node in within:
        raise CatalogError(
            [Problem(filename, line, _field(path), "an alias refers to a value that contains it")]
        )
    if len(within) >= MAX_DEPTH:
        raise CatalogError([Problem(filename, line, _field(path), _too_deep())])
    linemap.lines.setdefault(path, line)
    within = (*within, node)
    if isinstance(node, yaml.MappingNode):
        result: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):  # never constructed: it could hold an alias bomb
                problems.append(Problem(filename, line, _field(path), "keys must be text"))
                continue
            key = _scalar(key_node, loader, filename, _field(path))
            field = _field((*path, key))
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
            result[key] = _build(value_node, (*path, key), linemap, loader, problems, filename, within)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, i), linemap, loader, problems, filename, within)
            for i, item in enumerate(node.value)
        ]
    return _scalar(node, loader, filename, _field(path))


def _scalar(node: yaml.Node, loader: SafeConstructor, filename: str, field: str) -> Any:
    """A scalar's value (``!!int x`` and the like are the file's fault: a located problem, not a crash).

    Raises:
        CatalogError: an explicit tag whose text is not a value of that type.
    """
    try:
        return loader.construct_object(node)
    except yaml.YAMLError:
        raise
    except (ValueError, KeyError, AttributeError, TypeError, OverflowError) as e:
        tag = str(node.tag).rsplit(":", 1)[-1]
        problem = Problem(filename, node.start_mark.line + 1, field, f"{node.value!r} is not a valid {tag}")
        raise CatalogError([problem]) from e


def _field(path: Path) -> str:
    return ".".join(str(p) for p in path) or "(top)"


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
