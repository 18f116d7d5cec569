"""search document lexemes no longer indexed: searches read `search_posting` (0013), so
the GIN index on `search_document.document` only cost every index write and rebuild

Revision ID: 0014_search_document_unindexed
Revises: 0013_search_postings
Create Date: 2026-12-03 19:50:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014_search_document_unindexed'
down_revision = '0013_search_postings'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('search_document', schema=None) as batch_op:
        batch_op.drop_index('ix_search_document_document', postgresql_using='gin')


def downgrade():
    with op.batch_alter_table('search_document', schema=None) as batch_op:
        batch_op.create_index(
            'ix_search_document_document', ['document'], unique=False, postgresql_using='gin'
        )
