"""OpenAPI 3.1 description built from the registered /api/v1 routes.

Each endpoint documents itself with @document(...); the spec is generated from
the URL map, so a route cannot exist without appearing here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum
from typing import Any

from flask import current_app, jsonify
from flask.typing import ResponseReturnValue

from supportdesk.api.base import bp
from supportdesk.tickets.models import Priority

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object"},
            },
        }
    },
}


def document(
    summary: str,
    *,
    request_body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    responses: dict[int, str] | None = None,
    public: bool = False,
) -> Callable:
    def wrap(view: Callable) -> Callable:
        view.openapi = {  # type: ignore[attr-defined]
            "summary": summary,
            "request_body": request_body,
            "parameters": parameters or [],
            "responses": responses or {200: "OK"},
            "public": public,
        }
        return view

    return wrap


def json_object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """A request body's schema: a JSON object with these properties, `required` among them."""
    return {"type": "object", "required": required, "properties": properties}


# A PATCH answers with the changed object; a stale `version` is a 409 (optimistic locking).
VERSIONED_CHANGE_RESPONSES = {
    200: "Changed",
    409: "Stale version or invalid transition",
    422: "Invalid",
}


def versioned_change(statuses: type[Enum], properties: dict[str, Any]) -> dict[str, Any]:
    """A PATCH body: the `version` the caller read, then a status, a priority or `properties`."""
    return json_object(
        ["version"],
        {
            "version": {"type": "integer"},
            "status": {"type": "string", "enum": [s.value for s in statuses]},
            "priority": {"type": "string", "enum": [p.value for p in Priority]},
            **properties,
        },
    )


def query_param(name: str, description: str = "", type_: str = "string") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": type_},
    }


def build_spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        view = current_app.view_functions[rule.endpoint]
        meta = getattr(view, "openapi", None) or {
            "summary": rule.endpoint,
            "parameters": [],
            "responses": {200: "OK"},
            "public": False,
            "request_body": None,
        }
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        path_params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in re.findall(r"{([^}]+)}", path)
        ]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation: dict[str, Any] = {
                "operationId": f"{rule.endpoint}_{method.lower()}",
                "summary": meta["summary"],
                "parameters": path_params + meta["parameters"],
                "responses": {
                    str(code): {"description": text} for code, text in meta["responses"].items()
                },
            }
            operation["responses"].setdefault(
                "4XX",
                {
                    "description": "Error",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            )
            if meta["request_body"]:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": meta["request_body"]}},
                }
            if meta["public"]:
                operation["security"] = [{}, {"bearer": []}]
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "supportdesk API", "version": "1"},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR_SCHEMA},
        },
        "paths": dict(sorted(paths.items())),
    }


@bp.get("/openapi.json")
@document("This description", public=True)
def openapi_json() -> ResponseReturnValue:
    # the URL map does not change once the app is built: describe it once per app
    spec = current_app.extensions.get("openapi_spec")
    if spec is None:
        spec = current_app.extensions["openapi_spec"] = build_spec()
    return jsonify(spec)
