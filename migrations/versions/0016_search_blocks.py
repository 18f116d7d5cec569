"""search blocks: each stem's postings per visibility key, packed, for ranking in numpy

Revision ID: 0016_search_blocks
Revises: 0015_search_posting_keys
Create Date: 2026-12-04 05:00:00.000000

The PostgreSQL full-text backend reads a search's postings as one packed row per query
stem and visibility key (`search_block`) and ranks them in the app, instead of grouping
the posting rows in the database. On PostgreSQL the blocks are derived from the
postings in SQL (no `search rebuild` needed); SQLite gets the same (empty) table.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_search_blocks'
down_revision = '0015_search_posting_keys'
branch_labels = None
depends_on = None

# postgres_backend._REFRESH_BLOCKS when this migration was written.
_FILL = (
    'INSERT INTO search_block (stem, visibility, postings)'
    ' SELECT stem, visibility, string_agg(int4send(document) || float4send(weight)'
    " || int2send(system) || int2send(category), ''::bytea ORDER BY document)"
    ' FROM search_posting GROUP BY stem, visibility'
)


def upgrade():
    op.create_table(
        'search_block',
        sa.Column('stem', sa.String(length=100), nullable=False),
        sa.Column('visibility', sa.Integer(), nullable=False),
        sa.Column('postings', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('stem', 'visibility', name=op.f('pk_search_block')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_FILL)


def downgrade():
    op.drop_table('search_block')
