"""search postings: per stem and article a BM25F weight, a vocabulary of distinct words,
the number of indexed articles

Revision ID: 0013_search_postings
Revises: 0012_ticket_report_times
Create Date: 2026-12-03 19:00:00.000000

The PostgreSQL full-text backend scores every match from `search_posting` (one
index-only pass over a covering index) and finds typo candidates in
`search_vocabulary`; `search_total` holds the number of indexed articles. On
PostgreSQL an index filled by an older version is carried over in SQL: the field
lengths and term frequencies come from the stored tsvector's weights (A title, B tags,
D body). SQLite gets the same (empty) tables: only the `postgres` search backend
fills them.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013_search_postings'
down_revision = '0012_ticket_report_times'
branch_labels = None
depends_on = None

# BM25F as the backend weighs a stem when this migration was written: k1 1.2, b 0.75,
# title x3, tags x2, body x1 (posting_weights, now in supportdesk/search/postgres_rows.py).
_CARRY_OVER = """
WITH terms AS (
    SELECT d.slug, u.lexeme,
           count(*) FILTER (WHERE w = 'A') AS title,
           count(*) FILTER (WHERE w = 'B') AS tags,
           count(*) FILTER (WHERE w = 'D') AS body
    FROM search_document d, unnest(d.document) AS u, unnest(u.weights) AS w
    GROUP BY d.slug, u.lexeme
),
lengths AS (
    SELECT slug, sum(title) AS title, sum(tags) AS tags, sum(body) AS body
    FROM terms GROUP BY slug
),
averages AS (
    SELECT avg(title) AS title, avg(tags) AS tags, avg(body) AS body FROM lengths
),
pseudo AS (
    SELECT t.slug, t.lexeme,
           CASE WHEN t.title > 0 THEN 3.0 * t.title / (0.25 + 0.75 * l.title / a.title)
                ELSE 0 END
           + CASE WHEN t.tags > 0 THEN 2.0 * t.tags / (0.25 + 0.75 * l.tags / a.tags)
                  ELSE 0 END
           + CASE WHEN t.body > 0 THEN 1.0 * t.body / (0.25 + 0.75 * l.body / a.body)
                  ELSE 0 END AS tf
    FROM terms t JOIN lengths l USING (slug), averages a
)
INSERT INTO search_posting (slug, stem, weight, audience, municipality_id, vendor_id,
                            system, category)
SELECT p.slug, p.lexeme, p.tf * 2.2 / (p.tf + 1.2), d.audience, d.municipality_id,
       d.vendor_id, d.system, d.category
FROM pseudo p
JOIN search_document d USING (slug)
"""
_LENGTHS = """
UPDATE search_document d SET title_length = l.title, tags_length = l.tags,
                             body_length = l.body
FROM (
    SELECT d.slug,
           count(*) FILTER (WHERE w = 'A') AS title,
           count(*) FILTER (WHERE w = 'B') AS tags,
           count(*) FILTER (WHERE w = 'D') AS body
    FROM search_document d, unnest(d.document) AS u, unnest(u.weights) AS w
    GROUP BY d.slug
) l
WHERE l.slug = d.slug
"""


def upgrade():
    with op.batch_alter_table('search_document', schema=None) as batch_op:
        for name in ('title_length', 'tags_length', 'body_length'):
            batch_op.add_column(
                sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text('0'))
            )
    with op.batch_alter_table('search_document', schema=None) as batch_op:
        for name in ('title_length', 'tags_length', 'body_length'):
            batch_op.alter_column(name, server_default=None)

    op.create_table('search_posting',
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('stem', sa.String(length=100), nullable=False),
    sa.Column('weight', sa.REAL(), nullable=False),
    sa.Column('audience', sa.String(length=20), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=True),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('system', sa.String(length=60), nullable=False),
    sa.Column('category', sa.String(length=60), nullable=False),
    sa.PrimaryKeyConstraint('slug', 'stem', name=op.f('pk_search_posting'))
    )
    with op.batch_alter_table('search_posting', schema=None) as batch_op:
        batch_op.create_index(
            'ix_search_posting_rank', ['stem', 'weight'], unique=False,
            postgresql_include=[
                'slug', 'audience', 'municipality_id', 'vendor_id', 'system', 'category'
            ],
        )

    op.create_table('search_vocabulary',
    sa.Column('word', sa.String(length=100), nullable=False),
    sa.Column('stem', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('word', name=op.f('pk_search_vocabulary'))
    )
    with op.batch_alter_table('search_vocabulary', schema=None) as batch_op:
        batch_op.create_index(
            'ix_search_vocabulary_word', ['word'], unique=False,
            postgresql_ops={'word': 'text_pattern_ops'},
        )

    op.create_table('search_total',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('documents', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_total'))
    )
    op.execute('INSERT INTO search_total (id, documents) SELECT 1, count(*) FROM search_document')

    if op.get_bind().dialect.name != 'postgresql':
        return
    # Narrow heap rows: the text and lexemes of rows written from now on go out of line.
    op.execute('ALTER TABLE search_document SET (toast_tuple_target = 128)')
    op.execute('ALTER TABLE search_posting SET (parallel_workers = 0)')
    op.execute(_LENGTHS)
    op.execute(_CARRY_OVER)
    op.execute(
        'INSERT INTO search_vocabulary (word, stem)'
        ' SELECT DISTINCT ON (word) word, stem FROM search_word ORDER BY word'
    )


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE search_document RESET (toast_tuple_target)')
    op.drop_table('search_total')
    with op.batch_alter_table('search_vocabulary', schema=None) as batch_op:
        batch_op.drop_index('ix_search_vocabulary_word')
    op.drop_table('search_vocabulary')
    with op.batch_alter_table('search_posting', schema=None) as batch_op:
        batch_op.drop_index('ix_search_posting_rank')
    op.drop_table('search_posting')
    with op.batch_alter_table('search_document', schema=None) as batch_op:
        for name in ('body_length', 'tags_length', 'title_length'):
            batch_op.drop_column(name)
