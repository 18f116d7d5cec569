"""search words: no index on the stem (no query reads search_word by stem any more)

Revision ID: 0017_search_word_unindexed_stem
Revises: 0016_search_blocks
Create Date: 2026-12-04 09:00:00.000000

The stems' document counts are kept in `search_stem` (by index() and remove(), and
counted in Python by `search rebuild`), so nothing looks up `search_word` by stem: the
index only cost every write of a word, a third of what `search rebuild` spent on them.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017_search_word_unindexed_stem'
down_revision = '0016_search_blocks'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('search_word', schema=None) as batch_op:
        batch_op.drop_index('ix_search_word_stem')


def downgrade():
    with op.batch_alter_table('search_word', schema=None) as batch_op:
        batch_op.create_index('ix_search_word_stem', ['stem'], unique=False)
