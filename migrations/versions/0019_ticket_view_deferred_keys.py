"""ticket view: foreign keys checked at COMMIT (deferred)

Revision ID: 0019_ticket_view_deferred_keys
Revises: 0018_search_log_autoincrement
Create Date: 2026-12-05 14:00:00.000000

On PostgreSQL the ticket page inserts its access-log row with its read of the ticket,
before the page is rendered (supportdesk/tickets/access_log.py: read_ticket). Checked at
the INSERT, the three foreign keys held their key-share locks on the ticket, the viewer
and the municipality while the page rendered; deferred, they are checked, and the rows
locked, as the view commits. SQLite checks them at COMMIT too (its table is rebuilt).
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019_ticket_view_deferred_keys'
down_revision = '0018_search_log_autoincrement'
branch_labels = None
depends_on = None

KEYS = (
    ('fk_ticket_view_ticket_id_ticket', 'ticket', 'ticket_id'),
    ('fk_ticket_view_user_id_user_account', 'user_account', 'user_id'),
    ('fk_ticket_view_municipality_id_municipality', 'municipality', 'municipality_id'),
)


def _keys(deferred: bool) -> None:
    if op.get_bind().dialect.name == 'postgresql':
        timing = 'DEFERRABLE INITIALLY DEFERRED' if deferred else 'NOT DEFERRABLE'
        for name, _table, _column in KEYS:
            op.execute(f'ALTER TABLE ticket_view ALTER CONSTRAINT {name} {timing}')
        return
    options = {'deferrable': True, 'initially': 'DEFERRED'} if deferred else {}
    with op.batch_alter_table('ticket_view', recreate='always') as batch:
        for name, table, column in KEYS:
            batch.drop_constraint(name, type_='foreignkey')
            batch.create_foreign_key(name, table, [column], ['id'], **options)


def upgrade():
    _keys(True)


def downgrade():
    _keys(False)
