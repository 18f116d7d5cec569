"""answers: a vendor message's handling (relayed or kept internal) and the municipality's
setting to relay vendor answers automatically

Revision ID: 0010_answers
Revises: 0011_queue
Create Date: 2026-12-03 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_answers'
down_revision = '0011_queue'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        'municipality',
        sa.Column('auto_relay_answers', sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column('case_message', sa.Column('handling', sa.String(length=12), nullable=True))
    op.add_column('case_message', sa.Column('handled_by_id', sa.Integer(), nullable=True))
    op.add_column('case_message', sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('case_message', schema=None) as batch_op:
        batch_op.create_foreign_key(
            'fk_case_message_handled_by_id_user_account', 'user_account', ['handled_by_id'], ['id']
        )


def downgrade():
    with op.batch_alter_table('case_message', schema=None) as batch_op:
        batch_op.drop_constraint('fk_case_message_handled_by_id_user_account', type_='foreignkey')
        batch_op.drop_column('handled_at')
        batch_op.drop_column('handled_by_id')
        batch_op.drop_column('handling')
    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.drop_column('auto_relay_answers')
