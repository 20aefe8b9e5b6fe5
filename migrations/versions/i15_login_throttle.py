"""login_throttle: failed sign-ins per (account, client address), so one address cannot lock out another

Revision ID: i15_login_throttle
Revises: i13_schedules
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i15_login_throttle'
down_revision = 'i13_schedules'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'login_throttle',
        sa.Column('user_id', sa.BigInteger(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('client', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('user_id', 'client'),
    )
    # Account-wide locks are gone (a lock is per address now): none may outlive the upgrade.
    op.execute("UPDATE users SET locked_until = NULL")


def downgrade():
    op.drop_table('login_throttle')
