"""API: does this text contain a CPR number? The intake warning asks while a ticket is written."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from supportdesk import policy
from supportdesk.api.base import bp, require_user
from supportdesk.api.openapi import document, json_object
from supportdesk.api.payload import json_body
from supportdesk.errors import ValidationFailed
from supportdesk.sensitive import cpr_findings

MAX_TEXTS = 10
MAX_LENGTH = 50_000


@bp.post("/sensitive/check")
@document(
    "CPR numbers in texts (all common spellings, real dates only); nothing is stored",
    request_body=json_object(["texts"], {"texts": {"type": "array", "items": {"type": "string"}}}),
)
def sensitive_check() -> ResponseReturnValue:
    require_user(policy.can_create_ticket)
    texts = json_body().get("texts")
    if (
        not isinstance(texts, list)
        or len(texts) > MAX_TEXTS
        or not all(isinstance(t, str) and len(t) <= MAX_LENGTH for t in texts)
    ):
        raise ValidationFailed(fields={"texts": "A list of at most 10 strings."})
    return jsonify({"results": [{"cpr": [f.text for f in cpr_findings(text)]} for text in texts]})
