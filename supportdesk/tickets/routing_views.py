"""Routing admin pages: a municipal admin orders the rules and keeps the queues.

Load via policy, validate a form, call one routing service, commit, redirect or render.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from supportdesk import policy
from supportdesk.accounts.forms import INSTITUTION_TYPE_LABELS
from supportdesk.accounts.models import InstitutionType
from supportdesk.errors import Forbidden, NotFound, ValidationFailed
from supportdesk.extensions import db
from supportdesk.tickets import lookups, routing
from supportdesk.tickets.forms import MoveRuleForm, QueueForm, RoutingRuleForm
from supportdesk.tickets.models import RoutingRule, TicketSource

bp = Blueprint("routing", __name__)


@bp.before_request
def _only_routing_admins() -> None:
    """Every page here is the municipal admin's: a 404 for anyone else who is logged in."""
    if current_user.is_authenticated and not policy.can_manage_routing(current_user):
        raise NotFound()


@bp.get("/admin/routing")
@login_required
def rules() -> ResponseReturnValue:
    return render_template(
        "tickets/routing.html",
        rules=routing.routing_rules(current_user),
        queues=lookups.queue_options(current_user),
        queue_form=QueueForm(formdata=None),
        move_form=MoveRuleForm(formdata=None),
    )


@bp.post("/admin/routing/queues")
@login_required
def create_queue() -> ResponseReturnValue:
    form = QueueForm()
    if form.validate_on_submit():
        try:
            queue = routing.create_queue(current_user, form.name.data, bool(form.is_hotline.data))
        except ValidationFailed as error:
            db.session.rollback()
            for message in error.apply_to(form) + list(form.name.errors):
                flash(message, "error")
        else:
            db.session.commit()
            flash(_("Queue %(name)s created.", name=queue.name), "success")
    else:
        flash(_("Give the queue a name."), "error")
    return redirect(url_for("routing.rules"))


@bp.route("/admin/routing/new", methods=["GET", "POST"], defaults={"rule_id": None})
@bp.route("/admin/routing/<int:rule_id>", methods=["GET", "POST"])
@login_required
def edit_rule(rule_id: int | None) -> ResponseReturnValue:
    rule = routing.get_rule(current_user, rule_id) if rule_id else None
    form = RoutingRuleForm(obj=None)
    _fill_rule_form(form)
    if request.method == "GET" and rule is not None:
        _show_rule(form, rule)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            _save_rule(form, rule)
        except ValidationFailed as error:
            db.session.rollback()
            errors = error.apply_to(form)
        else:
            db.session.commit()
            flash(_("Routing rule saved."), "success")
            return redirect(url_for("routing.rules"))
    status = 422 if request.method == "POST" else 200
    return render_template("tickets/rule.html", form=form, rule=rule, errors=errors), status


def _fill_rule_form(form: RoutingRuleForm) -> None:
    systems = lookups.systems_with_categories()
    form.system.choices = [("", _("Any"))] + [(str(s.id), s.name) for s in systems]
    form.category.choices = [("", _("Any"))] + [
        (str(c.id), f"{s.name} - {c.name}") for s in systems for c in s.categories
    ]
    form.institution_type.choices = [("", _("Any"))] + [
        (t.value, str(INSTITUTION_TYPE_LABELS.get(t, t.value))) for t in InstitutionType
    ]
    form.queue.choices = [("", _("None"))] + [
        (str(q.id), q.name) for q in lookups.queue_options(current_user)
    ]
    form.assignee.choices = [("", _("Nobody"))] + [
        (str(u.id), u.name) for u in lookups.assignee_options(current_user)
    ]


def _show_rule(form: RoutingRuleForm, rule: RoutingRule) -> None:
    form.name.data = rule.name
    form.system.data = str(rule.system_id or "")
    form.category.data = str(rule.category_id or "")
    form.institution_type.data = rule.institution_type.value if rule.institution_type else ""
    form.source.data = rule.source.value if rule.source else ""
    form.queue.data = str(rule.queue_id or "")
    form.assignee.data = str(rule.assignee_id or "")
    form.active.data = rule.active


def _save_rule(form: RoutingRuleForm, rule: RoutingRule | None) -> RoutingRule:
    institution_type = form.institution_type.data
    return routing.save_rule(
        current_user,
        rule,
        name=form.name.data,
        system=lookups.get_system_by_id(form.system.data),
        category=lookups.get_category_by_id(form.category.data),
        institution_type=InstitutionType(institution_type) if institution_type else None,
        source=TicketSource(form.source.data) if form.source.data else None,
        queue=lookups.get_queue(current_user, form.queue.data),
        assignee=lookups.get_assignee(current_user, form.assignee.data),
        active=bool(form.active.data),
    )


@bp.post("/admin/routing/<int:rule_id>/move")
@login_required
def move_rule(rule_id: int) -> ResponseReturnValue:
    rule = routing.get_rule(current_user, rule_id)
    form = MoveRuleForm()
    if form.validate_on_submit():
        routing.move_rule(current_user, rule, -1 if form.direction.data == "up" else 1)
        db.session.commit()
    return redirect(url_for("routing.rules"))


@bp.post("/admin/routing/<int:rule_id>/delete")
@login_required
def delete_rule(rule_id: int) -> ResponseReturnValue:
    rule = routing.get_rule(current_user, rule_id)
    if not FlaskForm().validate_on_submit():
        raise Forbidden()
    routing.delete_rule(current_user, rule)
    db.session.commit()
    flash(_("Routing rule deleted."), "success")
    return redirect(url_for("routing.rules"))
