"""The small TOML reading kit that `config.py` and `script.py` share: reading and parsing a
file into one-line errors, `Kind`s (what a value must be) and `TableReader` (typed keys with
key paths in messages). Imports neither tensorflow, keras nor textual.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from .errors import BadInput, ConfigError

_MISSING: Any = object()
_IMPORT_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_IDENT_RE = re.compile(r"^[A-Za-z_]\w*$")
_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
# NUL ends a C string (os calls raise "embedded null byte"); the others garble a terminal.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def show(value: Any) -> str:
    """Render a received value for a one-line message, TOML-like and at most ~60 characters."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value)  # quotes, and escapes newlines so the message stays one line
    elif isinstance(value, dict):
        return "a table"
    elif isinstance(value, list):
        text = "[" + ", ".join(show(item) for item in value) + "]"
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ` (did you mean "x"?)` for the closest choice, or "" when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # TOML true is no integer


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


@dataclass(frozen=True)
class Kind:
    """What a value must be: a test, the phrase used after "expected", and a conversion."""

    expected: str
    accepts: Callable[[Any], bool]
    convert: Callable[[Any], Any] = lambda value: value


STRING = Kind("a non-empty string", lambda v: isinstance(v, str) and v.strip() != "")
BOOL = Kind("true or false", lambda v: isinstance(v, bool))
INT_GE0 = Kind("an integer >= 0", lambda v: _is_int(v) and v >= 0)
POS_INT = Kind("a positive integer", lambda v: _is_int(v) and v > 0)
SEED = Kind("an integer in [0, 4294967295]", lambda v: _is_int(v) and 0 <= v < 2**32)
POS_NUMBER = Kind("a positive number", lambda v: _is_number(v) and v > 0, float)
NUMBER_GE0 = Kind("a number >= 0", lambda v: _is_number(v) and v >= 0, float)
SPLIT = Kind("a number in [0, 1)", lambda v: _is_number(v) and 0 <= v < 1, float)
NUMBER_0_30 = Kind("a number in (0, 30]", lambda v: _is_number(v) and 0 < v <= 30, float)
TABLE = Kind("a table", lambda v: isinstance(v, dict), dict)
STR_LIST = Kind(
    "a list of strings",
    lambda v: isinstance(v, list) and all(STRING.accepts(item) for item in v),
    tuple,
)
IMPORT_PATH = Kind('"module:function"', lambda v: isinstance(v, str) and bool(_IMPORT_RE.match(v)))
CALLBACK_TYPE = Kind(
    'a Keras callback class name such as "EarlyStopping", or "module:Class"',
    lambda v: isinstance(v, str) and bool(_IDENT_RE.match(v) or _IMPORT_RE.match(v)),
)
# A run name becomes a folder under runs/, so it may not climb out of it (nor be longer than a
# file name may be: 255 bytes).
NAME = Kind(
    'a name of at most 255 bytes without "/", "\\" or control characters',
    lambda v: (
        STRING.accepts(v)
        and len(v.encode("utf-8", "surrogatepass")) <= 255
        and not re.search(r"[/\\]", v)
        and not _CONTROL_RE.search(v)
        and v not in (".", "..")
    ),
)
PATH = Kind(
    "a path without control characters",
    lambda v: STRING.accepts(v) and not _CONTROL_RE.search(v),
)


def toml_key(key: str) -> str:
    """A key as TOML (and messages) write it: bare when it may be, else quoted."""
    return key if _BARE_KEY_RE.match(key) else json.dumps(key)


class TableReader:
    """Reads typed keys from one TOML table and raises one-line errors that name the key path.

    Args:
        table: The parsed table.
        where: Its key path in messages: `[data]`, `[[action]][3]`, or "" for the document.
        file: The file named in messages.
        error: The exception class to raise.
    """

    def __init__(
        self, table: dict[str, Any], where: str, file: str, error: type[BadInput] = ConfigError
    ) -> None:
        self.table, self.where, self.file, self.error = table, where, file, error

    def path(self, key: str) -> str:
        """The key path of `key` in this table, as messages write it."""
        shown = toml_key(key)
        if not self.where:  # a section: [name], or [[name]] for an array of tables
            return f"[[{shown}]]" if isinstance(self.table.get(key), list) else f"[{shown}]"
        return f"{self.where}.{shown}" if key else self.where

    def fail(self, key: str, message: str) -> NoReturn:
        """Raise this reader's error about `key` ("" for the table itself)."""
        raise self.error(f"{self.file}: {self.path(key)}: {message}")

    def check_keys(self, allowed: Iterable[str]) -> None:
        """Reject the first key not in `allowed`, with a did-you-mean hint."""
        allowed = tuple(allowed)
        for key in self.table:
            if key not in allowed:
                what = "section" if not self.where else "key"
                self.fail(
                    key,
                    f"unknown {what}; expected one of {', '.join(allowed)}"
                    + did_you_mean(key, allowed),
                )

    def get(self, key: str, kind: Kind, default: Any = _MISSING) -> Any:
        """Return `table[key]` checked against `kind` and converted, or `default` if absent."""
        if key not in self.table:
            if default is _MISSING:
                self.fail(key, f"expected {kind.expected}, received nothing (it is required)")
            return default
        value = self.table[key]
        if not kind.accepts(value):
            self.fail(key, f"expected {kind.expected}, received {show(value)}")
        return kind.convert(value)

    def section(self, key: str) -> TableReader:
        """A reader for the sub-table `key` (empty when absent)."""
        value = self.get(key, TABLE, default={})
        return TableReader(value, self.path(key), self.file, self.error)


def read_toml(path: str | Path, error: type[BadInput]) -> str:
    """Read a TOML file's text; any failure is `error` with a one-line message naming `path`."""
    try:
        # utf-8-sig: a byte-order mark left by an editor is harmless, so it is not an error.
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except IsADirectoryError:
        raise error(f"{path}: expected a TOML file, received a folder") from None
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: expected UTF-8 text, received an undecodable byte at offset {exc.start}"
        ) from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None


def parse_toml(text: str, file: str, error: type[BadInput]) -> dict[str, Any]:
    """Parse TOML; a syntax error becomes `error` naming the line and column."""
    try:
        return tomllib.loads(text)
    except RecursionError:  # tomllib recurses once per nested array or inline table
        depth, where = nesting(text)
        raise error(
            f"{file}: {where}: invalid TOML (arrays or inline tables nested too deeply: "
            f"{depth} levels)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's message ends in "(at line L, column C)" or "(at end of document)".
        message = str(exc).splitlines()[0]
        found = re.search(r"\s*\(at (line \d+, column \d+|end of document)\)$", message)
        where = found.group(1) if found else "somewhere"
        reason = message[: found.start()] if found else message
        raise error(f"{file}: {where}: invalid TOML ({reason})") from None


def nesting(text: str, limit: int = 100) -> tuple[int, str]:
    """The deepest nesting of [ and { in TOML text, and where it first passed `limit`
    ("line L, column C"). Strings and comments are skipped well enough to locate the place;
    only called once the parser gave up."""
    depth = deepest = 0
    where, quote, line, column = "somewhere", "", 1, 0
    escaped = False
    for char in text:
        column += 1
        if char == "\n":
            line, column = line + 1, 0
            if quote == "#":
                quote = ""
        elif quote:
            if quote != "#" and char == quote and not escaped:
                quote = ""
            escaped = quote == '"' and char == "\\" and not escaped
        elif char in "\"'#":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > limit and where == "somewhere":
                where = f"line {line}, column {column}"
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest, where
