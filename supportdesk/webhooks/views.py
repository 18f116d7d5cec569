"""Webhook administration: the system admin for vendors (and any municipality), a
municipal admin for the own municipality. Loaded through policy (another tenant's
webhook is a 404); services validate and write; the view commits once."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from supportdesk import policy
from supportdesk.accounts.models import Municipality, Vendor
from supportdesk.errors import NotFound, ValidationFailed
from supportdesk.extensions import db
from supportdesk.form_pages import form_page, save_form, saved_and_go
from supportdesk.webhooks import delivery as _delivery  # noqa: F401  (registers the handler)
from supportdesk.webhooks import services
from supportdesk.webhooks.forms import WebhookActionForm, WebhookForm
from supportdesk.webhooks.models import Webhook

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")


def _owner() -> tuple[Municipality | None, Vendor | None]:
    return policy.webhook_owner(
        current_user,
        municipality=request.args.get("municipality"),
        vendor=request.args.get("vendor"),
    )


def _owner_args(municipality: Municipality | None, vendor: Vendor | None) -> dict[str, str]:
    """Query arguments that keep the owner for the system admin (a municipal admin has one)."""
    if not policy.is_admin(current_user):
        return {}
    if vendor is not None:
        return {"vendor": vendor.slug}
    return {"municipality": municipality.slug} if municipality is not None else {}


def _list_url(webhook: Webhook) -> str:
    return url_for("webhooks.index", **_owner_args(webhook.municipality, webhook.vendor))


def _event_choices(allowed) -> list[tuple[str, str]]:
    return [(e.value, f"{services.EVENT_LABELS[e]} ({e.value})") for e in allowed]


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    municipality, vendor = _owner()
    return render_template(
        "webhooks/index.html",
        webhooks=services.list_webhooks(current_user, vendor=vendor, municipality=municipality),
        municipality=municipality,
        vendor=vendor,
        owner_args=_owner_args(municipality, vendor),
    )


def _save(form: WebhookForm, webhook: Webhook | None, **owner: Any) -> Webhook:
    return services.save_webhook(
        current_user,
        webhook,
        name=form.name.data or "",
        url=form.url.data or "",
        events=form.events.data or [],
        **owner,
    )


def _saved(message: str, webhook: Webhook) -> ResponseReturnValue:
    return saved_and_go(message, url_for("webhooks.detail", webhook_id=webhook.id))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    municipality, vendor = _owner()
    if municipality is None and vendor is None:
        raise NotFound()
    form = WebhookForm()
    form.events.choices = _event_choices(services.events_for(vendor_owned=vendor is not None))

    message = _("The webhook has been created. Give the receiver its signing secret.")
    response, general = save_form(
        form,
        lambda: _save(form, None, vendor=vendor, municipality=municipality),
        lambda webhook: _saved(message, webhook),
    )
    if response is not None:
        return response
    return form_page(
        "webhooks/new.html",
        form=form,
        general=general,
        municipality=municipality,
        vendor=vendor,
        owner_args=_owner_args(municipality, vendor),
    )


@bp.route("/<int:webhook_id>", methods=["GET", "POST"])
@login_required
def detail(webhook_id: int) -> ResponseReturnValue:
    webhook = policy.get_webhook(current_user, webhook_id)
    form = WebhookForm(obj=webhook if request.method == "GET" else None)
    form.events.choices = _event_choices(webhook.allowed_events)

    response, general = save_form(
        form,
        lambda: _save(form, webhook),
        lambda saved: _saved(_("%(name)s has been saved.", name=saved.name), saved),
    )
    if response is not None:
        return response
    return form_page(
        "webhooks/detail.html",
        webhook=webhook,
        form=form,
        action_form=WebhookActionForm(),
        general=general,
        municipality=webhook.municipality,
        list_url=_list_url(webhook),
    )


def _action(webhook_id: int) -> Webhook:
    webhook = policy.get_webhook(current_user, webhook_id)
    if not WebhookActionForm().validate_on_submit():
        raise ValidationFailed(_("The form has expired. Reload the page and try again."))
    return webhook


@bp.post("/<int:webhook_id>/active")
@login_required
def set_active(webhook_id: int) -> ResponseReturnValue:
    webhook = _action(webhook_id)
    active = request.form.get("active") == "1"
    services.set_active(current_user, webhook, active)
    db.session.commit()
    if active:
        flash(_("%(name)s is active again.", name=webhook.name), "success")
    else:
        flash(_("%(name)s is deactivated and receives nothing.", name=webhook.name), "success")
    return redirect(url_for("webhooks.detail", webhook_id=webhook.id))


@bp.post("/<int:webhook_id>/secret")
@login_required
def rotate_secret(webhook_id: int) -> ResponseReturnValue:
    webhook = _action(webhook_id)
    services.rotate_secret(current_user, webhook)
    db.session.commit()
    flash(
        _("A new signing secret has been made; the old one no longer works."),
        "success",
    )
    return redirect(url_for("webhooks.detail", webhook_id=webhook.id))


@bp.post("/<int:webhook_id>/delete")
@login_required
def delete(webhook_id: int) -> ResponseReturnValue:
    webhook = _action(webhook_id)
    name, next_url = webhook.name, _list_url(webhook)
    services.delete_webhook(current_user, webhook)
    db.session.commit()
    flash(_("%(name)s has been deleted.", name=name), "success")
    return redirect(next_url)
