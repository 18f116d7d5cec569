"""Input the databases cannot take, refused at the edge as a 4xx instead of a 500.

One place for what both SQLite and PostgreSQL reject or mangle: ids beyond the id
columns' INTEGER (`OverflowError` in sqlite3, "integer out of range" on PostgreSQL),
NUL characters (PostgreSQL refuses them in text), JSON nested deeper than a request can
mean (`RecursionError` in the parser) and lone UTF-16 surrogates (`UnicodeEncodeError`
when the driver encodes the string). Nothing here knows the request: the app's guards,
the URL converter and the API's body reader use it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Column
from werkzeug.routing import IntegerConverter

# Ids are INTEGER columns: PostgreSQL compares them as int4, so a larger bound fails there.
ID_MAX = 2**31 - 1
# A ticket body is an object of strings; 32 levels leave room for any client's envelope.
JSON_MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


class UnsafeJson(ValueError):
    """A JSON body the app will not read; `reason` says why in plain English.

    `hostile` is False for text that is simply not JSON, True for JSON that is well
    formed but too deep or holds text the databases cannot store.
    """

    def __init__(self, reason: str, *, hostile: bool = True) -> None:
        self.reason = reason
        self.hostile = hostile
        super().__init__(reason)


class DatabaseIdConverter(IntegerConverter):
    """`<int:…>` bounded to the id columns' INTEGER: a larger number matches no route (404)."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


def database_id(value: Any) -> int:
    """A form or query value as an id the database can compare; ValueError otherwise.

    Use as `request.args.get(name, type=database_id)`: werkzeug turns the ValueError
    into the default, as it does for text that is not a number.
    """
    number = int(value)
    if not -ID_MAX - 1 <= number <= ID_MAX:
        raise ValueError("out of the database's integer range")
    return number


def has_nul(text: str) -> bool:
    return "\x00" in text


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored as text on both databases, or None."""
    if "\x00" in text:
        return "contains a NUL character"
    if _SURROGATE.search(text):
        return "contains a lone UTF-16 surrogate"
    return None


def load_json(data: bytes | str) -> Any:
    """Parse a request body; UnsafeJson for bad syntax, deep nesting, NUL or surrogates."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsafeJson("The body is not UTF-8.", hostile=False) from None
    if _too_deep(data):
        raise UnsafeJson(f"JSON nested deeper than {JSON_MAX_DEPTH} levels.")
    try:
        value = json.loads(data)
    except RecursionError:  # cannot happen below the depth limit; kept as a backstop
        raise UnsafeJson(f"JSON nested deeper than {JSON_MAX_DEPTH} levels.") from None
    except ValueError:
        raise UnsafeJson("The body is not valid JSON.", hostile=False) from None
    problem = _first_text_problem(value)
    if problem is not None:
        raise UnsafeJson(problem)
    return value


def _too_deep(text: str) -> bool:
    """Bracket depth outside strings, counted before parsing (the parser recurses)."""
    if text.count("[") + text.count("{") <= JSON_MAX_DEPTH:
        return False
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > JSON_MAX_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _first_text_problem(value: Any) -> str | None:
    """The first key or string value that cannot be stored (walked without recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                return f"A string {problem}."
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def column_length(column: Column[Any] | Any) -> int:
    """The declared length of a String column (a model attribute or a Column)."""
    length = getattr(column, "type", None) and column.type.length
    if not length:
        raise TypeError(f"{column} has no length")
    return int(length)
