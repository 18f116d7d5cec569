"""reports: index on ticket creation time for reports over every municipality

Revision ID: 0009_reports
Revises: 0010_answers
Create Date: 2026-12-03 16:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009_reports'
down_revision = '0010_answers'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_ticket_created', 'ticket', ['created_at'], unique=False)


def downgrade():
    op.drop_index('ix_ticket_created', table_name='ticket')
