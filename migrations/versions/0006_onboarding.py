"""onboarding: rollout wave and go-live date of a municipality

Revision ID: 0006_onboarding
Revises: 0002_trust
Create Date: 2026-12-08 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_onboarding'
down_revision = '0002_trust'
branch_labels = None
depends_on = None


def upgrade():
    # plain nullable columns: on SQLite ADD COLUMN needs no copy of the table
    op.add_column('municipality', sa.Column('wave', sa.Integer(), nullable=True))
    op.add_column('municipality', sa.Column('go_live', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.drop_column('go_live')
        batch_op.drop_column('wave')
