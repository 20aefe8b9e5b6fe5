"""queue pauses: one row per paused queue (the Redis mirror is rebuilt from it)

Revision ID: i17_queue_pauses
Revises: i15_login_throttle
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i17_queue_pauses'
down_revision = 'i15_login_throttle'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'queue_pauses',
        sa.Column('queue', sa.String(length=255), nullable=False),
        sa.Column('paused_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('paused_by', sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint('queue'),
    )


def downgrade():
    op.drop_table('queue_pauses')
