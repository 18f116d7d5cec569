"""search log: ids never reused on SQLite (AUTOINCREMENT), so workers take them in blocks

Revision ID: 0018_search_log_autoincrement
Revises: 0017_search_word_unindexed_stem
Create Date: 2026-12-05 08:40:00.000000

Each worker writes its searches behind and hands out their ids beforehand
(supportdesk/faq/search_log.py): on SQLite it moves the table's `sqlite_sequence` entry on
by a block, which only an AUTOINCREMENT table has; a row inserted without an id is then
numbered past every block. PostgreSQL's serial column has its sequence already.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018_search_log_autoincrement'
down_revision = '0017_search_word_unindexed_stem'
branch_labels = None
depends_on = None


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        'search_log', recreate='always', table_kwargs={'sqlite_autoincrement': autoincrement}
    ):
        pass


def upgrade():
    _recreate(True)


def downgrade():
    _recreate(False)
