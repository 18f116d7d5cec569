"""ticket report times: a ticket's first answer, last reopening and the business time
to its first answer and to its resolution stored on the ticket, so reports need not read
every ticket's entries nor measure every ticket; the creation-time index also holds the
municipality (the rollout's volume per day from the index alone)

Revision ID: 0012_ticket_report_times
Revises: 0009_reports
Create Date: 2026-12-03 18:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_ticket_report_times'
down_revision = '0009_reports'
branch_labels = None
depends_on = None

# As supportdesk.tickets.history.fill_from_history computes them: the first public reply
# by someone other than the creator, and the last status event from resolved or closed
# back to open.
FILL = """
UPDATE ticket SET
    first_response_at = (
        SELECT min(e.created_at) FROM ticket_entry e
        WHERE e.ticket_id = ticket.id AND e.kind = 'reply'
          AND e.author_id IS NOT NULL AND e.author_id <> ticket.created_by_id
    ),
    reopened_at = (
        SELECT max(e.created_at) FROM ticket_entry e
        WHERE e.ticket_id = ticket.id AND e.event = 'status'
          AND {to} = 'open' AND {from_} IN ('resolved', 'closed')
    )
"""
JSON_TEXT = {
    'postgresql': ("e.data->>'to'", "e.data->>'from'"),
    'sqlite': ("json_extract(e.data, '$.to')", "json_extract(e.data, '$.from')"),
}


def upgrade():
    # the measure is the SLA calendar's (Danish holidays included): the app's own code,
    # on this migration's connection (another one would wait on its locks)
    from supportdesk.reports.durations import fill_business_times

    for column in ('first_response_at', 'reopened_at'):
        op.add_column('ticket', sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    for column in ('response_business_seconds', 'resolution_business_seconds'):
        op.add_column('ticket', sa.Column(column, sa.Integer(), nullable=True))
    to, from_ = JSON_TEXT[op.get_bind().dialect.name]
    op.execute(FILL.format(to=to, from_=from_))
    fill_business_times(op.get_bind())
    op.drop_index('ix_ticket_created', table_name='ticket')
    op.create_index('ix_ticket_created', 'ticket', ['created_at', 'municipality_id'])


def downgrade():
    op.drop_index('ix_ticket_created', table_name='ticket')
    op.create_index('ix_ticket_created', 'ticket', ['created_at'])
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('resolution_business_seconds')
        batch_op.drop_column('response_business_seconds')
        batch_op.drop_column('reopened_at')
        batch_op.drop_column('first_response_at')
