"""An article's history in the reader's language and in Danish time (it showed UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.faq.models import ArticleVersion
from tests.faq.conftest import write_article


def test_history_times_are_danish_time_and_actions_are_words(
    app, db, client, login, faq_world, tmp_path, make_user
):
    write_article(tmp_path, "aula", "meld-syg", category="komme-gaa", title="Meld syg")
    assert app.test_cli_runner().invoke(args=["faq", "import", str(tmp_path)]).exit_code == 0
    version = db.session.scalar(select(ArticleVersion))
    version.created_at = datetime(2026, 12, 3, 13, 5, tzinfo=UTC)  # 14:05 in Copenhagen
    db.session.commit()
    editor = login(make_user(Role.vendor_editor, vendor=faq_world["vendors"]["netcompany"]))

    danish = client.get("/faq/meld-syg/history").get_data(as_text=True)
    assert "03.12.2026 kl. 14.05" in danish
    assert "13.05" not in danish
    assert "03-12-2026" not in danish
    assert "Importeret fra en fil" in danish
    assert "<td>import (" not in danish

    editor.locale = "en"
    db.session.commit()
    english = client.get("/faq/meld-syg/history").get_data(as_text=True)
    assert "3 Dec 2026, 14:05" in english
    assert "Imported from a file" in english
