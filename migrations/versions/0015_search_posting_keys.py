"""search posting keys: documents numbered, postings and words carry the document number,
one integer visibility key and system/category numbers instead of slug, audience,
municipality, vendor and facet text

Revision ID: 0015_search_posting_keys
Revises: 0014_search_document_unindexed
Create Date: 2026-12-03 22:00:00.000000

The PostgreSQL full-text backend reads a search's postings from the covering index
`ix_search_posting_rank`; with small integers in it instead of text the index is about a
third of its size. On PostgreSQL the index rows are carried over in SQL (no `search
rebuild` needed, in either direction): the old tables are renamed, their rows copied
into the new shape and dropped. SQLite gets the same (empty) tables: only the
`postgres` search backend fills them.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0015_search_posting_keys'
down_revision = '0014_search_document_unindexed'
branch_labels = None
depends_on = None

_TABLES = ('search_posting', 'search_word', 'search_document')
_OLD_INDEXES = {
    'search_posting': ['ix_search_posting_rank'],
    'search_word': ['ix_search_word_stem', 'ix_search_word_word'],
    'search_document': [],
}
_DOCUMENT_COLUMNS = (
    'slug, system, category, audience, municipality_id, vendor_id, title, tags, body,'
    ' document, title_length, tags_length, body_length'
)
# postgres_ranking.visibility_key when this migration was written.
_VISIBILITY = """
CASE d.audience WHEN 'public' THEN 0 WHEN 'first_level' THEN 1
     WHEN 'municipal' THEN coalesce(2 + 2 * d.municipality_id, -1)
     WHEN 'vendor_internal' THEN coalesce(3 + 2 * d.vendor_id, -1)
     ELSE -1 END
"""
_UP = [
    'INSERT INTO search_document (id, ' + _DOCUMENT_COLUMNS + ')'
    ' SELECT row_number() OVER (ORDER BY slug), ' + _DOCUMENT_COLUMNS
    + ' FROM old_search_document',
    "SELECT setval(pg_get_serial_sequence('search_document', 'id'),"
    ' (SELECT coalesce(max(id), 0) + 1 FROM search_document), false)',
    'INSERT INTO search_facet (id, kind, name)'
    ' SELECT row_number() OVER (ORDER BY kind, name), kind, name FROM ('
    "  SELECT 'system' AS kind, system AS name FROM search_document"
    "  UNION SELECT 'category', category FROM search_document) AS f",
    "SELECT setval(pg_get_serial_sequence('search_facet', 'id'),"
    ' (SELECT coalesce(max(id), 0) + 1 FROM search_facet), false)',
    'INSERT INTO search_posting (document, stem, weight, visibility, system, category)'
    ' SELECT d.id, p.stem, p.weight, ' + _VISIBILITY + ', s.id, c.id'
    ' FROM old_search_posting p JOIN search_document d ON d.slug = p.slug'
    " JOIN search_facet s ON s.kind = 'system' AND s.name = d.system"
    " JOIN search_facet c ON c.kind = 'category' AND c.name = d.category",
    'INSERT INTO search_word (document, word, stem, visibility)'
    ' SELECT d.id, w.word, w.stem, ' + _VISIBILITY
    + ' FROM old_search_word w JOIN search_document d ON d.slug = w.slug',
]
_DOWN = [
    'INSERT INTO search_document (' + _DOCUMENT_COLUMNS + ')'
    ' SELECT ' + _DOCUMENT_COLUMNS + ' FROM old_search_document',
    'INSERT INTO search_posting (slug, stem, weight, audience, municipality_id, vendor_id,'
    ' system, category)'
    ' SELECT d.slug, p.stem, p.weight, d.audience, d.municipality_id, d.vendor_id,'
    ' d.system, d.category FROM old_search_posting p JOIN old_search_document d'
    ' ON d.id = p.document',
    'INSERT INTO search_word (slug, word, stem, audience, municipality_id, vendor_id)'
    ' SELECT d.slug, w.word, w.stem, d.audience, d.municipality_id, d.vendor_id'
    ' FROM old_search_word w JOIN old_search_document d ON d.id = w.document',
]


def upgrade():
    carry = _set_aside(['pk_search_document'])
    _create_document(numbered=True)
    op.create_table('search_facet',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_facet')),
    sa.UniqueConstraint('kind', 'name', name=op.f('uq_search_facet_kind_name'))
    )
    _create_posting(numbered=True)
    _create_word(numbered=True)
    if carry:
        _carry_over(_UP)


def downgrade():
    carry = _set_aside(['pk_search_document', 'uq_search_document_slug'])
    op.drop_table('search_facet')
    _create_document(numbered=False)
    _create_posting(numbered=False)
    _create_word(numbered=False)
    if carry:
        _carry_over(_DOWN)


def _owner(numbered):
    """The column naming a posting's or word's document: its number (0015) or slug."""
    if numbered:
        return sa.Column('document', sa.Integer(), nullable=False)
    return sa.Column('slug', sa.String(length=120), nullable=False)


def _visibility(numbered):
    """The visibility key (0015), or the audience, municipality and vendor columns."""
    if numbered:
        return [sa.Column('visibility', sa.Integer(), nullable=False)]
    return [
        sa.Column('audience', sa.String(length=20), nullable=False),
        sa.Column('municipality_id', sa.Integer(), nullable=True),
        sa.Column('vendor_id', sa.Integer(), nullable=False),
    ]


def _create_posting(numbered):
    facet = sa.SmallInteger() if numbered else sa.String(length=60)
    owner = _owner(numbered)
    op.create_table('search_posting',
    owner,
    sa.Column('stem', sa.String(length=100), nullable=False),
    sa.Column('weight', sa.REAL(), nullable=False),
    *_visibility(numbered),
    sa.Column('system', facet, nullable=False),
    sa.Column('category', facet, nullable=False),
    sa.PrimaryKeyConstraint(owner.name, 'stem', name=op.f('pk_search_posting'))
    )
    if numbered:
        key, include = ['stem', 'visibility'], ['document', 'weight', 'system', 'category']
    else:
        key = ['stem', 'weight']
        include = ['slug', 'audience', 'municipality_id', 'vendor_id', 'system', 'category']
    with op.batch_alter_table('search_posting', schema=None) as batch_op:
        batch_op.create_index(
            'ix_search_posting_rank', key, unique=False, postgresql_include=include
        )


def _create_word(numbered):
    owner = _owner(numbered)
    op.create_table('search_word',
    owner,
    sa.Column('word', sa.String(length=100), nullable=False),
    sa.Column('stem', sa.String(length=100), nullable=False),
    *_visibility(numbered),
    sa.PrimaryKeyConstraint(owner.name, 'word', name=op.f('pk_search_word'))
    )
    with op.batch_alter_table('search_word', schema=None) as batch_op:
        batch_op.create_index('ix_search_word_stem', ['stem'], unique=False)
        batch_op.create_index(
            'ix_search_word_word', ['word'], unique=False,
            postgresql_ops={'word': 'text_pattern_ops'},
        )


def _set_aside(document_constraints):
    """PostgreSQL: rename the three tables to old_* and free their index and constraint
    names (True: rows to carry over). SQLite: drop them (the tables are empty there)."""
    postgres = op.get_bind().dialect.name == 'postgresql'
    for table in _TABLES:
        if postgres:
            for index in _OLD_INDEXES[table]:
                op.execute(f'DROP INDEX {index}')
            constraints = document_constraints if table == 'search_document' else [f'pk_{table}']
            for constraint in constraints:
                op.execute(f'ALTER TABLE {table} DROP CONSTRAINT {constraint}')
            op.execute(f'ALTER TABLE {table} RENAME TO old_{table}')
        else:
            with op.batch_alter_table(table, schema=None) as batch_op:
                for index in _OLD_INDEXES[table]:
                    batch_op.drop_index(index)
            op.drop_table(table)
    return postgres


def _create_document(numbered):
    key = [sa.Column('id', sa.Integer(), nullable=False)] if numbered else []
    constraints = (
        [sa.PrimaryKeyConstraint('id', name=op.f('pk_search_document')),
         sa.UniqueConstraint('slug', name=op.f('uq_search_document_slug'))]
        if numbered
        else [sa.PrimaryKeyConstraint('slug', name=op.f('pk_search_document'))]
    )
    op.create_table('search_document',
    *key,
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('system', sa.String(length=60), nullable=False),
    sa.Column('category', sa.String(length=60), nullable=False),
    sa.Column('audience', sa.String(length=20), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=True),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('document', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'),
              nullable=False),
    sa.Column('title_length', sa.Integer(), nullable=False),
    sa.Column('tags_length', sa.Integer(), nullable=False),
    sa.Column('body_length', sa.Integer(), nullable=False),
    *constraints,
    )


def _carry_over(statements):
    """Copy the old rows into the new tables, drop the old ones, set the table options."""
    # Narrow heap rows (text and lexemes out of line); no parallel workers (0013).
    op.execute('ALTER TABLE search_document SET (toast_tuple_target = 128)')
    op.execute('ALTER TABLE search_posting SET (parallel_workers = 0)')
    for statement in statements:
        op.execute(statement)
    op.execute('DROP TABLE old_search_posting, old_search_word, old_search_document')
    op.execute('ANALYZE search_document, search_posting, search_word')
