"""webhooks: report_schedules.callback_url (each report a schedule makes carries it)

Revision ID: i18_schedule_callback
Revises: i17_priority
Create Date: 2026-12-05 09:20:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i18_schedule_callback'
down_revision = 'i17_priority'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('report_schedules', sa.Column('callback_url', sa.Text(), nullable=True))


def downgrade():
    op.drop_column('report_schedules', 'callback_url')
