"""Templates' `_()`: the request's language, an e-mail's language, Jinja's formatting,
and the catalogue asked once per message and language, not on every call."""

from __future__ import annotations

from flask import render_template_string
from flask_babel import force_locale, get_translations

import supportdesk


def test_templates_speak_the_request_language_and_an_emails_language(app, client):
    page = '{{ _("Language") }}|{% trans %}Language{% endtrans %}'
    with app.test_request_context("/"):
        assert render_template_string(page) == "Sprog|Sprog"
        with force_locale("en"):
            assert render_template_string(page) == "Language|Language"
        assert render_template_string(page) == "Sprog|Sprog"
    label = '<label for="footer-locale">{}</label>'
    assert label.format("Sprog") in client.get("/login").get_data(as_text=True)
    client.set_cookie("lang", "en")
    assert label.format("Language") in client.get("/login").get_data(as_text=True)
    client.set_cookie("lang", "da")
    assert label.format("Sprog") in client.get("/login").get_data(as_text=True)


def test_a_message_is_formatted_and_escaped_with_or_without_variables(app):
    with app.test_request_context("/"):
        assert render_template_string('{{ _("100%% of <b>") }}') == "100% of <b>"
        assert (
            render_template_string('{{ _("Hi %(name)s", name=who) }}', who="<i>x</i>")
            == "Hi &lt;i&gt;x&lt;/i&gt;"
        )
        # a macro imported without the page's context translates too
        template = app.jinja_env.from_string(
            '{% import "_macros/forms.html" as forms %}{{ _("Language") }}'
        )
        assert template.render() == "Sprog"


def test_variables_may_be_named_string_or_context(app):
    with app.test_request_context("/"):
        assert render_template_string('{{ _("Hi %(string)s", string="x") }}') == "Hi x"
        assert render_template_string('{{ _("Hi %(context)s", context="<x>") }}') == "Hi &lt;x&gt;"
        assert (
            render_template_string('{% trans context="x" %}Hi {{ context }}{% endtrans %}')
            == "Hi x"
        )


def test_the_catalogue_is_asked_once_per_message_and_language(app, monkeypatch):
    page = '{% for _i in range(5) %}{{ _("Language") }}{% endfor %}'
    monkeypatch.setattr(supportdesk, "_PLAIN", {})  # nothing kept from earlier tests
    with app.test_request_context("/"):
        catalogue = get_translations()
        asked: list[str] = []
        original = catalogue.ugettext

        def counting(message: str) -> str:
            asked.append(message)
            return original(message)

        monkeypatch.setattr(catalogue, "ugettext", counting)
        assert render_template_string(page) == "Sprog" * 5
    with app.test_request_context("/"):
        assert render_template_string(page) == "Sprog" * 5
    assert asked.count("Language") == 1
