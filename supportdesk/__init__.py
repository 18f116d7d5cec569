"""supportdesk: tiered support desk and FAQ for the Danish municipal support model.

Importing any `supportdesk.<module>` runs this file first. So that importing a model,
`supportdesk.cache.generations` or a migration does not load the web app, this file
imports only configuration and extensions at its top; `create_app` imports the domains
(models, views, commands, templates' helpers) inside its steps: importing them here
would close the cycle package → domain module → package while this one is half-built.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, g, request, session
from flask_babel import get_locale, get_translations
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix

from supportdesk.cache import fragments
from supportdesk.config import ROOT_DIR, flask_config, load_settings
from supportdesk.extensions import (
    babel,
    csrf,
    db,
    limiter,
    login_manager,
    migrate,
)
from supportdesk.pg_connections import configure_postgres
from supportdesk.safe_input import DatabaseIdConverter
from supportdesk.sqlite_locks import configure_sqlite

LOCALES = ("da", "en")


def _blueprints():
    """Every blueprint, in one list, so a new domain is registered in one place."""
    # imported when the app is built, not with the package (see the module docstring)
    # their routes join the accounts blueprint (they import it from accounts.views)
    from supportdesk.accounts import password_views, twofactor_views  # noqa: F401
    from supportdesk.accounts.views import bp as accounts_bp
    from supportdesk.admin.security_views import bp as admin_security_bp
    from supportdesk.admin.views import bp as admin_bp
    from supportdesk.api import bp as api_bp
    from supportdesk.audit.views import bp as audit_bp
    from supportdesk.core_views import bp as core_bp
    from supportdesk.escalation.known_issue_views import bp as known_issues_bp
    from supportdesk.escalation.views import bp as escalation_bp
    from supportdesk.faq.views import bp as faq_bp
    from supportdesk.gdpr.views import bp as gdpr_bp
    from supportdesk.notifications.devmail_views import bp as devmail_bp
    from supportdesk.notifications.views import bp as notifications_bp
    from supportdesk.onboarding.views import bp as onboarding_bp
    from supportdesk.replies.views import bp as replies_bp
    from supportdesk.reports.views import bp as reports_bp
    from supportdesk.tickets import work_views  # noqa: F401  (routes join tickets.bp)
    from supportdesk.tickets.routing_views import bp as routing_bp
    from supportdesk.tickets.views import bp as tickets_bp
    from supportdesk.webhooks.views import bp as webhooks_bp

    return [
        core_bp,
        accounts_bp,
        admin_bp,
        admin_security_bp,
        api_bp,
        notifications_bp,
        devmail_bp,
        tickets_bp,
        routing_bp,
        escalation_bp,
        known_issues_bp,
        faq_bp,
        webhooks_bp,
        audit_bp,
        gdpr_bp,
        onboarding_bp,
        replies_bp,
        reports_bp,
    ]


def _translation_dirs() -> str:
    """One catalogue per domain: supportdesk/<domain>/translations (merged by Flask-Babel)."""
    package = Path(__file__).parent
    dirs = sorted(str(p) for p in package.glob("*/translations") if p.is_dir())
    dirs.append(str(package / "translations"))
    return ";".join(dirs)


def select_locale() -> str:
    user = current_user._get_current_object()
    if user and user.is_authenticated and user.locale in LOCALES:
        return user.locale
    chosen = request.cookies.get("lang") if request else None
    return chosen if chosen in LOCALES else "da"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` overrides settings (tests pass a mapping)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT_DIR / "templates"),
        static_folder=str(ROOT_DIR / "static"),
        instance_path=str(ROOT_DIR / "instance"),
    )
    overrides = dict(config or {})
    environ = {**os.environ, **overrides.pop("environ", {})}
    settings = load_settings(environ)
    app.config.update(flask_config(settings))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = _translation_dirs()
    app.config.update(overrides)
    settings = app.config["SUPPORTDESK"]
    os.makedirs(app.instance_path, exist_ok=True)
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT_DIR / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    _init_login(app)
    fragments.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine, settings.db_busy_timeout * 1000)
        configure_postgres(db.engine)

    # the domains, when the app is built (see the module docstring)
    from supportdesk import models  # noqa: F401  (every model registered for metadata)
    from supportdesk.cli import register_cli
    from supportdesk.errors import register_error_handlers

    # ids beyond a BIGINT match no route (404) instead of overflowing in the driver
    app.url_map.converters["int"] = DatabaseIdConverter
    for blueprint in _blueprints():
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    register_cli(app)
    _init_templates(app)
    _init_security_headers(app)
    _init_input_guard(app)
    if environ.get("SUPPORTDESK_PROXY_FIX"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    return app


def _init_login(app: Flask) -> None:
    from supportdesk.accounts.cookies import VerifiedCookieSessionInterface  # a domain, as below
    from supportdesk.accounts.models import User  # a domain (see the module docstring)

    app.session_interface = VerifiedCookieSessionInterface()
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def _load(user_id: str) -> User | None:
        # the cookie's server-side session must still be open (accounts/sessions.py)
        from supportdesk.accounts.sessions import load_current

        return load_current(user_id)

    @login_manager.request_loader
    def _from_token(req) -> User | None:
        """Bearer tokens authenticate the JSON API only."""
        header = req.headers.get("Authorization", "")
        if not req.path.startswith("/api/") or not header.startswith("Bearer "):
            return None
        from supportdesk.accounts.services import user_for_token  # see the module docstring

        user = user_for_token(
            header.removeprefix("Bearer ").strip(),
            read_only=req.method in ("GET", "HEAD", "OPTIONS"),
        )
        if user is not None:
            g.token_auth = True
        return user


PLAIN_MESSAGES = 4096  # per catalogue: templates' `_()` take literal message ids


def _install_request_gettext(app: Flask) -> Callable[[], Any]:
    """Jinja's `_()` with the request's catalogue looked up once, not on every call.

    Flask-Babel resolves context, locale and catalogue for each message; a page has
    hundreds. The catalogue is kept on `g` beside the locale it was looked up for, so
    `force_locale` (e-mails in the recipient's language) and `refresh()` still apply.
    Every render gets a `_` bound to that catalogue (`_context`); macros imported
    without the page's context and `{% trans %}` blocks use the global `gettext`,
    which looks the catalogue up per call. A message without variables is translated
    and formatted once per catalogue and kept (`_translate`).
    """

    def translations() -> Any:
        babel_state = g.get("_flask_babel")
        locale = getattr(babel_state, "babel_locale", None)
        memo = g.get("_sd_translations")
        if memo is not None and locale is not None and memo[0] is locale:
            return memo[1]
        found = get_translations()
        locale = getattr(g.get("_flask_babel"), "babel_locale", None)
        g._sd_translations = (locale, found)
        return found

    # Jinja wraps these as newstyle callables; its `gettext` is then replaced by ours,
    # which keeps plain messages (`_translate`)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )

    def gettext(context: Any, string: str, /, **variables: Any) -> Any:
        catalogue = translations()
        return _translate(catalogue, _plain(catalogue)[0], context, string, variables)

    app.jinja_env.globals["gettext"] = pass_context(gettext)
    return lambda: _plain(translations())[1]


# catalogue -> (message -> what `_()` gives without variables, the bound `_`)
_PLAIN: dict[Any, tuple[dict[str, Any], Any]] = {}


def _plain(catalogue: Any) -> tuple[dict[str, Any], Any]:
    found = _PLAIN.get(catalogue)
    if found is None:
        messages: dict[str, Any] = {}

        @pass_context
        def bound(context: Any, string: str, /, **variables: Any) -> Any:
            return _translate(catalogue, messages, context, string, variables)

        found = _PLAIN.setdefault(catalogue, (messages, bound))
    return found


def _translate(
    catalogue: Any, messages: dict[str, Any], context: Any, string: str, variables: dict[str, Any]
) -> Any:
    """What Jinja's newstyle `gettext` gives: the translation, as Markup where the
    template escapes, always formatted with `%` (so `%%` reads `%` without variables
    too). Without variables it is kept in `messages`, the catalogue's. The callers take
    the context and the message positionally only: a template's variables may be named
    `context` or `string`."""
    autoescape = context.eval_ctx.autoescape
    if variables or not autoescape:
        text = catalogue.ugettext(string)
        return (Markup(text) if autoescape else text) % variables  # noqa: S704 — as Jinja does
    found = messages.get(string)
    if found is None:
        found = Markup(catalogue.ugettext(string)) % {}  # noqa: S704 — our catalogue
        if len(messages) < PLAIN_MESSAGES:
            messages[string] = found
    return found


def _init_templates(app: Flask) -> None:
    # domains and their helpers, when the app is built (see the module docstring)
    from supportdesk import dates, policy
    from supportdesk.accounts.forms import INSTITUTION_TYPE_LABELS, ROLE_LABELS
    from supportdesk.escalation import models as escalation
    from supportdesk.markup import render_markdown
    from supportdesk.navigation import main_menu, nav_items
    from supportdesk.tickets import models as tickets

    app.jinja_env.globals.update(
        policy=policy,
        csrf_token=fragments.csrf_token,
        nav_items=nav_items,
        main_menu=main_menu,
        role_label=lambda role: ROLE_LABELS.get(role, role),
        institution_type_label=lambda t: INSTITUTION_TYPE_LABELS.get(t, t),
    )
    # `<name>_label(value)`: an enum's label for its value (or the enum member), as
    # pages and their cached fragments show it; an unknown value shows as it is
    enum_labels = {
        "status_label": (tickets.STATUS_LABELS, tickets.TicketStatus),
        "priority_label": (tickets.PRIORITY_LABELS, tickets.Priority),
        "source_label": (tickets.SOURCE_LABELS, tickets.TicketSource),
        "case_status_label": (escalation.CASE_STATUS_LABELS, escalation.CaseStatus),
        "sla_state_label": (escalation.SLA_STATE_LABELS, escalation.SlaState),
        "known_issue_status_label": (
            escalation.KNOWN_ISSUE_STATUS_LABELS,
            escalation.KnownIssueStatus,
        ),
    }
    for name, (labels, enum) in enum_labels.items():
        app.jinja_env.globals[name] = _enum_label(labels, enum)
    app.jinja_env.filters["markdown"] = render_markdown
    dates.init_app(app)
    template_gettext = _install_request_gettext(app)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _context() -> dict[str, Any]:
        # Flask-WTF puts its own csrf_token in every context; ours leaves a hole
        # inside cached fragments (supportdesk/cache/fragments.py)
        return {
            "current_locale": str(get_locale() or "da"),
            "session": session,
            "csrf_token": fragments.csrf_token,
            "_": template_gettext(),
        }


def _enum_label(labels: Mapping[Any, Any], enum: type) -> Any:
    return lambda value: labels.get(enum(value), value)


def _init_input_guard(app: Flask) -> None:
    """NUL characters cannot be stored by PostgreSQL: refuse them up front (400, not 500).

    A NUL in the path names nothing that can exist: 404, before a view queries with it.
    """

    @app.before_request
    def _no_nul() -> None:
        if "\x00" in request.path:
            raise NotFound()
        sources = [request.args]
        if request.method in ("POST", "PUT", "PATCH"):
            if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                sources.append(request.form)
            elif request.is_json and b"\\u0000" in request.get_data():
                raise BadRequest()
        for source in sources:
            for key, values in source.lists():
                if any("\x00" in text for text in (key, *values)):
                    raise BadRequest()


def _init_security_headers(app: Flask) -> None:
    defaults = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        ),
    }
    lowered = {name.lower(): (name, value) for name, value in defaults.items()}

    @app.after_request
    def _headers(response):
        # one pass over the response's headers, not one per default (a view may set its own)
        missing = dict(lowered)
        for name, _value in response.headers:
            missing.pop(name.lower(), None)
        response.headers.extend(missing.values())
        if request.path.startswith(
            ("/api/", "/tickets", "/cases", "/admin", "/account", "/login", "/password")
        ) or (
            request.endpoint != "static"
            and (user := current_user._get_current_object())
            and user.is_authenticated
        ):
            # personal data must not stay in a browser's or proxy's cache
            response.headers["Cache-Control"] = "no-store"
        settings = app.config["SUPPORTDESK"]
        if settings.env == "production" and settings.base_url.startswith("https://"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response
