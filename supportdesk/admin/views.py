"""Administration: municipal admins manage their municipality, admin the installation.

Every object is loaded through `policy` (another municipality's user or institution
is a 404); services validate and write; the view commits once and redirects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from supportdesk import policy
from supportdesk.accounts import passwords, services, stepup
from supportdesk.accounts.forms import INSTITUTION_TYPE_LABELS, ROLE_LABELS
from supportdesk.accounts.models import InstitutionType, Municipality, Role, System, User, Vendor
from supportdesk.admin.forms import (
    AdminEntitlementForm,
    AdminInstitutionForm,
    AdminUserForm,
    CategoryForm,
    MunicipalityForm,
    SystemForm,
    VendorForm,
)
from supportdesk.errors import LimitReached, NotFound, ValidationFailed
from supportdesk.extensions import db
from supportdesk.form_pages import form_page, save_form, saved_and_go
from supportdesk.safe_input import database_id

bp = Blueprint("admin", __name__, url_prefix="/admin")

Form = TypeVar("Form", bound=FlaskForm)


def _form_page(
    template: str,
    form: FlaskForm,
    save: Callable[[], Any],
    next_url: Callable[[Any], str],
    **context: Any,
) -> ResponseReturnValue:
    """Save and go on to `next_url`, or show `template` with the errors (`general`)."""

    def done(saved: Any) -> ResponseReturnValue:
        return saved_and_go(_("%(name)s has been saved.", name=saved.name), next_url(saved))

    response, general = save_form(form, save, done)
    if response is not None:
        return response
    return form_page(template, form=form, general=general, **context)


def _scope() -> Municipality | None:
    """The municipality this page works on (?municipality=slug for admin)."""
    return policy.managed_municipality(current_user, request.args.get("municipality"))


def _required_scope() -> Municipality:
    municipality = _scope()
    if municipality is None:
        raise NotFound()
    return municipality


def _scoped_url(endpoint: str, municipality: Municipality | None, **values: Any) -> str:
    if municipality is not None and policy.is_admin(current_user):
        values["municipality"] = municipality.slug
    return url_for(endpoint, **values)


def _choose_municipality(endpoint: str) -> ResponseReturnValue:
    """For the admin, who works on every municipality: which one `endpoint` should show."""
    return render_template(
        "admin/choose.html",
        target=endpoint,
        municipalities=services.list_municipalities(current_user),
    )


def municipality_setting_page(
    endpoint: str,
    may: Callable[[User, int], bool],
    template: str,
    field: str,
    save: Callable[[Municipality, bool], None],
    saved: str,
) -> ResponseReturnValue:
    """A page with one yes/no setting of a municipality: shown, or saved (`field` is "yes")."""
    municipality = _scope()
    if municipality is None:
        return _choose_municipality(endpoint)
    if not may(current_user, municipality.id):
        raise NotFound()
    if request.method == "POST":  # CSRF checked by CSRFProtect
        save(municipality, request.form.get(field) == "yes")
        db.session.commit()
        flash(saved, "success")
        return redirect(_scoped_url(endpoint, municipality))
    return render_template(template, municipality=municipality)


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"scoped_url": _scoped_url}


# --- overview ---------------------------------------------------------------------------


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    municipality = _scope()
    overview = services.entitlement_overview(municipality.id) if municipality else []
    municipalities = (
        services.list_municipalities(current_user) if policy.is_admin(current_user) else []
    )
    return render_template(
        "admin/index.html",
        municipality=municipality,
        overview=overview,
        municipalities=municipalities,
    )


# --- users ------------------------------------------------------------------------------


def _user_form(municipality: Municipality | None, **kwargs: Any) -> tuple[AdminUserForm, dict]:
    """The user form with choices limited to what the actor may assign."""
    form = AdminUserForm(**kwargs)
    form.role.choices = [(r.value, ROLE_LABELS[r]) for r in policy.assignable_roles(current_user)]
    institutions = services.list_institutions(current_user, municipality)
    show_municipality = municipality is None and policy.is_admin(current_user)
    form.institution.choices = [("", _("No institution"))] + [
        (
            str(i.id),
            f"{i.name} ({i.municipality.name})" if show_municipality else i.name,
        )
        for i in institutions
    ]
    options = {"institution": {str(i.id): i for i in institutions}}
    # passwords are chosen by their owners through an invitation or reset link
    del form.password
    if policy.is_admin(current_user):
        municipalities = services.list_municipalities(current_user)
        vendors = services.list_vendors()
        form.municipality.choices = [("", _("No municipality"))] + [
            (str(m.id), m.name) for m in municipalities
        ]
        form.vendor.choices = [("", _("No vendor"))] + [(str(v.id), v.name) for v in vendors]
        options["municipality"] = {str(m.id): m for m in municipalities}
        options["vendor"] = {str(v.id): v for v in vendors}
    else:
        del form.municipality
        del form.vendor
    return form, options


def _user_data(form: AdminUserForm, options: dict, municipality: Municipality | None):
    if "municipality" in options:
        municipality = options["municipality"].get(form.municipality.data or "")
    return services.UserData(
        email=form.email.data or "",
        name=form.name.data or "",
        role=Role(form.role.data),
        municipality=municipality,
        institution=options["institution"].get(form.institution.data or ""),
        vendor=options.get("vendor", {}).get(form.vendor.data or "") if "vendor" in form else None,
        locale=form.locale.data or "da",
    )


@bp.get("/users")
@login_required
def users() -> ResponseReturnValue:
    municipality = _scope()
    rows, next_after = services.list_users(
        current_user, municipality, after=request.args.get("after", type=database_id)
    )
    return render_template(
        "admin/users.html", municipality=municipality, users=rows, next_after=next_after
    )


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
def user_new() -> ResponseReturnValue:
    municipality = _scope()
    initial = {"municipality": str(municipality.id)} if municipality else {}
    form, options = _user_form(municipality, data=initial if request.method == "GET" else None)

    def create() -> User:
        user = services.create_user(current_user, _user_data(form, options, municipality))
        # the user chooses the password through a single-use link, nobody types it
        passwords.invite(current_user, user)
        return user

    def done(user: User) -> ResponseReturnValue:
        message = _(
            "%(name)s has been created and gets an e-mail with a link to choose a password.",
            name=user.name,
        )
        return saved_and_go(message, _scoped_url("admin.users", municipality))

    response, general = save_form(form, create, done)
    if response is not None:
        return response
    return form_page(
        "admin/user_form.html", form=form, municipality=municipality, user=None, general=general
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@login_required
def user_edit(user_id: int) -> ResponseReturnValue:
    policy.require_municipal_admin(current_user)
    user = policy.get_managed_user(current_user, user_id)
    municipality = user.municipality
    # Admin may move a user to another municipality: offer every institution then.
    scope = None if policy.is_admin(current_user) else municipality
    initial = None
    if request.method == "GET":
        initial = {
            "email": user.email,
            "name": user.name,
            "role": user.role.value,
            "institution": str(user.institution_id or ""),
            "municipality": str(user.municipality_id or ""),
            "vendor": str(user.vendor_id or ""),
            "locale": user.locale,
            "active": user.active,
        }
    form, options = _user_form(scope, data=initial)

    def update() -> User:
        data = _user_data(form, options, municipality)
        return services.update_user(current_user, user, data, active=bool(form.active.data))

    def done(_saved: User) -> ResponseReturnValue:
        message = _("The changes to %(name)s have been saved.", name=user.name)
        return saved_and_go(message, _scoped_url("admin.users", municipality))

    response, general = save_form(form, update, done)
    if response is not None:
        return response
    return form_page(
        "admin/user_form.html",
        form=form,
        municipality=municipality,
        user=user,
        general=general,
        can_reset_two_factor=policy.can_reset_two_factor(current_user, user)
        and user.has_two_factor,
    )


# --- institutions ---------------------------------------------------------------------------


@bp.get("/institutions")
@login_required
def institutions() -> ResponseReturnValue:
    municipality = _scope()
    return render_template(
        "admin/institutions.html",
        municipality=municipality,
        institutions=services.list_institutions(current_user, municipality),
    )


def _save_institution(municipality: Municipality, institution=None) -> ResponseReturnValue:
    data = None
    if request.method == "GET" and institution is not None:
        data = {
            "number": institution.number,
            "name": institution.name,
            "type": institution.type.value,
            "active": institution.active,
        }
    form = AdminInstitutionForm(data=data)
    return _form_page(
        "admin/institution_form.html",
        form,
        lambda: services.save_institution(
            current_user,
            municipality,
            form.number.data or "",
            form.name.data or "",
            InstitutionType(form.type.data),
            active=bool(form.active.data),
            institution=institution,
        ),
        lambda _saved: _scoped_url("admin.institutions", municipality),
        municipality=municipality,
        institution=institution,
        type_labels=INSTITUTION_TYPE_LABELS,
    )


@bp.route("/institutions/new", methods=["GET", "POST"])
@login_required
def institution_new() -> ResponseReturnValue:
    return _save_institution(_required_scope())


@bp.route("/institutions/<number>", methods=["GET", "POST"])
@login_required
def institution_edit(number: str) -> ResponseReturnValue:
    policy.require_municipal_admin(current_user)
    institution = policy.get_managed_institution(current_user, number)
    return _save_institution(institution.municipality, institution)


# --- support entitlements -----------------------------------------------------------------


def _entitlement_form(municipality: Municipality) -> AdminEntitlementForm:
    form = AdminEntitlementForm()
    form.user.choices = [
        (str(u.id), u.name) for u in services.entitlement_candidates(current_user, municipality)
    ]
    form.vendor.choices = [(str(v.id), v.name) for v in services.list_vendors()]
    return form


def _entitlements_page(
    municipality: Municipality,
    form: AdminEntitlementForm,
    error: str | None = None,
    status=200,
    refused_revoke: dict[str, Any] | None = None,
) -> ResponseReturnValue:
    entitlements = services.entitlements_in(current_user, municipality)
    by_vendor: dict[int, list] = {}
    for entitlement in entitlements:
        by_vendor.setdefault(entitlement.vendor_id, []).append(entitlement)
    return render_template(
        "admin/entitlements.html",
        municipality=municipality,
        overview=services.entitlement_overview(municipality.id),
        by_vendor=by_vendor,
        form=form,
        error=error,
        refused_revoke=refused_revoke,
    ), status


@bp.route("/answers", methods=["GET", "POST"])
@login_required
def answers() -> ResponseReturnValue:
    """The municipality's answer flow: relay the vendor's answers automatically or not."""
    return municipality_setting_page(
        "admin.answers",
        policy.can_manage_municipality,
        "admin/answers.html",
        "auto_relay",
        lambda municipality, wanted: services.set_auto_relay_answers(
            current_user, municipality, wanted
        ),
        _("The answer setting has been saved."),
    )


@bp.get("/entitlements")
@login_required
def entitlements() -> ResponseReturnValue:
    municipality = _scope()
    if municipality is None:
        return _choose_municipality("admin.entitlements")
    return _entitlements_page(municipality, _entitlement_form(municipality))


@bp.post("/entitlements/grant")
@login_required
def entitlement_grant() -> ResponseReturnValue:
    municipality = _required_scope()
    user_id = request.form.get("user", type=database_id)
    if user_id is not None:  # another municipality's user is not found, not "invalid"
        policy.get_managed_user(current_user, user_id)
    form = _entitlement_form(municipality)
    if not form.validate_on_submit():
        return _entitlements_page(municipality, form, status=422)
    user = policy.get_managed_user(current_user, int(form.user.data))
    vendor = {str(v.id): v for v in services.list_vendors()}[form.vendor.data]
    stepup.require_recent_authentication()
    try:
        services.grant_entitlement(current_user, user, vendor)
    except (LimitReached, ValidationFailed) as error:
        db.session.rollback()
        return _entitlements_page(municipality, form, error=str(error.message), status=error.status)
    db.session.commit()
    flash(
        _("%(name)s is now support-entitled for %(vendor)s.", name=user.name, vendor=vendor.name),
        "success",
    )
    return redirect(_scoped_url("admin.entitlements", municipality))


@bp.post("/entitlements/revoke")
@login_required
def entitlement_revoke() -> ResponseReturnValue:
    municipality = _required_scope()
    user_id = request.form.get("user", type=database_id)
    vendor_id = request.form.get("vendor", type=database_id)
    if user_id is None or vendor_id is None:
        raise ValidationFailed()
    user = policy.get_managed_user(current_user, user_id)
    vendor = {v.id: v for v in services.list_vendors()}.get(vendor_id)
    if vendor is None or user.municipality_id != municipality.id:
        raise NotFound()
    stepup.require_recent_authentication()
    reason = request.form.get("reason", "")
    try:
        services.revoke_entitlement(current_user, user, vendor, reason=reason)
    except ValidationFailed as error:
        # below the vendor's minimum without a reason: ask for one (the page's form)
        db.session.rollback()
        refused = {"user": user, "vendor": vendor, "message": str(error.message), "reason": reason}
        return _entitlements_page(
            municipality, _entitlement_form(municipality), status=422, refused_revoke=refused
        )
    db.session.commit()
    flash(
        _(
            "%(name)s is no longer support-entitled for %(vendor)s.",
            name=user.name,
            vendor=vendor.name,
        ),
        "success",
    )
    return redirect(_scoped_url("admin.entitlements", municipality))


# --- system administration (role admin) -------------------------------------------------------


def _system_admin() -> None:
    policy.require_admin(current_user)


def _filled(form_class: type[Form], row: Any, **kwargs: Any) -> Form:
    """The form for `row` (None: a new one), filled from it when the page is first shown."""
    return form_class(obj=row if request.method == "GET" else None, **kwargs)


def _edited(model: type, slug: str | None, form_class: type[Form]) -> tuple[Any, Form]:
    """For the admin: the row `slug` names (None when creating one) and its form."""
    _system_admin()
    row = services.get_by_slug(model, slug) if slug else None
    return row, _filled(form_class, row)


@bp.get("/municipalities")
@login_required
def municipalities() -> ResponseReturnValue:
    _system_admin()
    return render_template(
        "admin/municipalities.html", municipalities=services.list_municipalities(current_user)
    )


@bp.route("/municipalities/new", methods=["GET", "POST"])
@bp.route("/municipalities/<slug>", methods=["GET", "POST"])
@login_required
def municipality_edit(slug: str | None = None) -> ResponseReturnValue:
    _system_admin()
    municipality = policy.get_municipality(current_user, slug) if slug else None
    form = _filled(MunicipalityForm, municipality)
    return _form_page(
        "admin/municipality_form.html",
        form,
        lambda: services.save_municipality(
            current_user,
            form.slug.data or "",
            form.name.data or "",
            (form.code.data or "").upper(),
            form.retention_days.data,
            municipality=municipality,
        ),
        lambda _saved: url_for("admin.municipalities"),
        municipality=municipality,
    )


@bp.get("/vendors")
@login_required
def vendors() -> ResponseReturnValue:
    _system_admin()
    return render_template("admin/vendors.html", vendors=services.list_vendors())


@bp.route("/vendors/new", methods=["GET", "POST"])
@bp.route("/vendors/<slug>", methods=["GET", "POST"])
@login_required
def vendor_edit(slug: str | None = None) -> ResponseReturnValue:
    vendor, form = _edited(Vendor, slug, VendorForm)
    if request.method == "GET" and vendor is not None:
        form.closed_days.data = "\n".join(
            f"{c.day.isoformat()} {c.reason}".strip() for c in vendor.closed_days
        )

    def save() -> Vendor:
        # parsed_closed_days exists once the form has validated.
        calendar = services.VendorCalendar(
            business_days=form.business_days.data,
            business_start=form.business_start.data,
            business_end=form.business_end.data,
            timezone=(form.timezone.data or "").strip(),
            closed_days=getattr(form, "parsed_closed_days", []),
        )
        return services.save_vendor(
            current_user,
            form.slug.data or "",
            form.name.data or "",
            min_entitled=form.min_entitled.data,
            max_entitled=form.max_entitled.data,
            support_email=form.support_email.data,
            calendar=calendar,
            vendor=vendor,
        )

    return _form_page(
        "admin/vendor_form.html", form, save, lambda _saved: url_for("admin.vendors"), vendor=vendor
    )


@bp.get("/systems")
@login_required
def systems() -> ResponseReturnValue:
    _system_admin()
    return render_template("admin/systems.html", systems=services.list_systems())


@bp.route("/systems/new", methods=["GET", "POST"])
@bp.route("/systems/<slug>", methods=["GET", "POST"])
@login_required
def system_edit(slug: str | None = None) -> ResponseReturnValue:
    system, form = _edited(System, slug, SystemForm)
    vendors = {str(v.id): v for v in services.list_vendors()}
    form.vendor.choices = [(key, v.name) for key, v in vendors.items()]
    if request.method == "GET" and system is not None:
        form.vendor.data = str(system.vendor_id)
    return _form_page(
        "admin/system_form.html",
        form,
        lambda: services.save_system(
            current_user,
            form.slug.data or "",
            form.name.data or "",
            vendors[form.vendor.data],
            system=system,
        ),
        lambda saved: url_for("admin.system_edit", slug=saved.slug),
        system=system,
        category_form=CategoryForm(prefix="category", formdata=None),
    )


@bp.route("/systems/<slug>/categories/new", methods=["GET", "POST"])
@bp.route("/systems/<slug>/categories/<int:category_id>", methods=["GET", "POST"])
@login_required
def category_edit(slug: str, category_id: int | None = None) -> ResponseReturnValue:
    _system_admin()
    system = services.get_by_slug(System, slug)
    category = services.get_category(system, category_id) if category_id else None
    form = _filled(CategoryForm, category, prefix="category")
    return _form_page(
        "admin/category_form.html",
        form,
        lambda: services.save_category(
            current_user, system, form.slug.data or "", form.name.data or "", category=category
        ),
        lambda _saved: url_for("admin.system_edit", slug=system.slug),
        system=system,
        category=category,
    )
