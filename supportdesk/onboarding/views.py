"""The wave import page and the wave overview (system administrator only).

An upload is read and checked before anything is written; on SQLite the request reads
beside other requests until the import starts writing (`import_workbook` takes the
write lock before its checks). The report is the response to the upload itself.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from supportdesk import policy
from supportdesk.accounts import stepup
from supportdesk.audit.services import to_csv
from supportdesk.config import ROOT_DIR
from supportdesk.extensions import db
from supportdesk.onboarding import readiness, services
from supportdesk.onboarding.forms import ImportForm
from supportdesk.sqlite_locks import reads_before_writes

bp = Blueprint("onboarding", __name__, url_prefix="/admin/onboarding")
EXAMPLE = ROOT_DIR / "docs" / "onboarding-example.xlsx"
# the pages' titles, also their entries in the administration menu (admin/_subnav.html)
TITLES = {"waves": _l("Rollout waves"), "import": _l("Import a wave")}
# problems listed on the page; the rest are counted (the command prints them all)
SHOWN_PROBLEMS = 500


def _import_page(form: ImportForm, result=None, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "onboarding/import.html",
        form=form,
        result=result,
        shown=SHOWN_PROBLEMS,
        title=TITLES["import"],
        sheets=services.SHEETS,
    ), status


@bp.get("/import")
@login_required
def import_page() -> ResponseReturnValue:
    policy.require_onboard(current_user)
    # confirmed before the file is chosen: a confirmation page cannot carry an upload
    stepup.require_recent_authentication()
    return _import_page(ImportForm())


@bp.post("/import")
@login_required
@reads_before_writes
def import_upload() -> ResponseReturnValue:
    policy.require_onboard(current_user)
    form = ImportForm()
    if not form.validate_on_submit():
        return _import_page(form, status=422)
    dry_run, partial = bool(form.dry_run.data), bool(form.partial.data)
    if not dry_run:
        stepup.require_recent_authentication()
    files = form.chosen_files()
    if not files:
        form.files.errors.append(_("Choose the workbook or the CSV files."))
        return _import_page(form, status=422)
    try:
        sheets = services.read_files(files)
    except services.SourceError as error:
        form.files.errors.append(str(error.message))
        return _import_page(form, status=422)
    result = services.import_workbook(current_user, sheets, dry_run=dry_run, partial=partial)
    if result.written and not dry_run:
        db.session.commit()
    else:
        db.session.rollback()
    return _import_page(ImportForm(formdata=None), result, 200 if result.written else 422)


@bp.get("/example.xlsx")
@login_required
def example() -> ResponseReturnValue:
    policy.require_onboard(current_user)
    return send_file(EXAMPLE, as_attachment=True, download_name="onboarding-eksempel.xlsx")


@bp.get("/waves")
@login_required
def waves() -> ResponseReturnValue:
    policy.require_onboard(current_user)
    today = readiness.today()
    return render_template(
        "onboarding/waves.html",
        title=TITLES["waves"],
        waves=readiness.overview(today),
        today=today,
        # translated once for the page, not once per cell
        lights={light: str(label) for light, label in readiness.LIGHT_LABELS.items()},
        labels={key: str(label) for key, label in readiness.CHECK_LABELS.items()},
        Light=readiness.Light,
    )


@bp.get("/waves.csv")
@login_required
def waves_csv() -> ResponseReturnValue:
    policy.require_onboard(current_user)
    waves = readiness.overview(readiness.today())
    return Response(
        to_csv(readiness.CSV_HEADER, readiness.csv_rows(waves)),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="udrulningsboelger.csv"'},
    )
