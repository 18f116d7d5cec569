"""API: the caller, systems with categories, institutions."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from supportdesk import policy
from supportdesk.accounts.models import Institution, System
from supportdesk.accounts.services import user_document
from supportdesk.api.base import bp, require_user
from supportdesk.api.openapi import document, query_param
from supportdesk.extensions import db


@bp.get("/me")
@document("The authenticated user")
def me() -> ResponseReturnValue:
    require_user()
    user = current_user._get_current_object()
    return jsonify(
        {
            **user_document(user),
            "entitlements": sorted(e.vendor.slug for e in user.entitlements),
        }
    )


@bp.get("/systems")
@document("Systems with their vendor and categories")
def systems() -> ResponseReturnValue:
    require_user()
    rows = db.session.scalars(
        select(System)
        .options(selectinload(System.categories), selectinload(System.vendor))
        .order_by(System.name)
    )
    return jsonify(
        [
            {
                "slug": s.slug,
                "name": s.name,
                "vendor": s.vendor.slug,
                "categories": [{"slug": c.slug, "name": c.name} for c in s.categories],
            }
            for s in rows
        ]
    )


@bp.get("/institutions")
@document("Institutions the caller may see", parameters=[query_param("municipality")])
def institutions() -> ResponseReturnValue:
    require_user()
    query = policy.institutions_visible_to(current_user).options(
        selectinload(Institution.municipality)
    )
    slug = request.args.get("municipality")
    if slug:
        query = query.where(
            Institution.municipality_id == policy.get_municipality(current_user, slug).id
        )
    return jsonify(
        [
            {
                "number": i.number,
                "name": i.name,
                "type": i.type.value,
                "municipality": i.municipality.slug,
            }
            for i in db.session.scalars(query)
        ]
    )
