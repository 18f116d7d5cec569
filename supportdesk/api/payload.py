"""Reading JSON request bodies: one shape check for every endpoint, errors with `fields`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import request

from supportdesk.errors import DomainError, ValidationFailed
from supportdesk.safe_input import UnsafeJson, load_json


class InvalidJson(DomainError):
    """A body no endpoint reads: too deep, not text both databases can store (400)."""

    status = 400
    code = "invalid_json"


def json_body() -> dict[str, Any]:
    """The request's JSON object, read with the depth and text checks of safe_input."""
    data = None
    if request.is_json:
        try:
            data = load_json(request.get_data(cache=True))
        except UnsafeJson as error:
            if error.hostile:
                raise InvalidJson(
                    "The JSON body cannot be read.", fields={"body": error.reason}
                ) from None
            # plain bad syntax keeps its 422 below
    if not isinstance(data, dict):
        raise ValidationFailed(
            "Send a JSON object.",
            fields={"body": "Send a JSON object (Content-Type: application/json)."},
        )
    return data


def optional_string(data: dict[str, Any], name: str, errors: dict[str, str]) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        errors[name] = "Must be a string."
        return None
    return value


def id_list(data: dict[str, Any], name: str, errors: dict[str, str]) -> list[int]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in value
    ):
        errors[name] = "A list of integer ids."
        return []
    return value


def boolean(data: dict[str, Any], name: str, errors: dict[str, str]) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        errors[name] = "Must be true or false."
        return False
    return value


def patch_version(data: dict[str, Any], allowed: Iterable[str]) -> int:
    """A PATCH names the version it read and only fields it may change."""
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValidationFailed(fields={"version": "Send the version you last read (integer)."})
    unknown = set(data) - {"version", *allowed}
    if unknown:
        raise ValidationFailed(fields={name: "Unknown field." for name in sorted(unknown)})
    return version


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
