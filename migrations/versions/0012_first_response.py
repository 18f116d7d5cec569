"""first response: the time of a ticket's first answer stored on the ticket (reports)

Revision ID: 0012_first_response
Revises: 0009_reports
Create Date: 2026-12-03 18:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_first_response'
down_revision = '0009_reports'
branch_labels = None
depends_on = None

# The first public reply by someone other than the ticket's creator, as
# supportdesk.tickets.history.fill_first_response computes it.
FILL = """
UPDATE ticket SET first_response_at = (
    SELECT min(e.created_at) FROM ticket_entry e
    WHERE e.ticket_id = ticket.id AND e.kind = 'reply'
      AND e.author_id IS NOT NULL AND e.author_id <> ticket.created_by_id
)
"""


def upgrade():
    op.add_column(
        'ticket', sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(FILL)


def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('first_response_at')
