"""The translation check counts a plural message as translated only with both Danish forms."""

from __future__ import annotations

from supportdesk import i18n

CATALOGUE = (
    i18n.HEADER
    + """
msgid "%(num)d ticket"
msgid_plural "%(num)d tickets"
msgstr[0] "%(num)d henvendelse"
msgstr[1] ""

msgid "%(num)d case"
msgid_plural "%(num)d cases"
msgstr[0] "%(num)d sag"
msgstr[1] "%(num)d sager"
"""
)


def test_a_plural_with_a_missing_form_is_not_translated(tmp_path, monkeypatch):
    po = tmp_path / "messages.po"
    po.write_text(CATALOGUE, encoding="utf-8")
    monkeypatch.setattr(i18n, "catalogue_files", lambda: [po])
    assert i18n.translated_ids() == {"%(num)d case"}
