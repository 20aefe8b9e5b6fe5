"""cancel a running report: report_requests.cancel_requested_at / cancel_requested_by

Revision ID: i17_cancel_running
Revises: i18_alerts
Create Date: 2026-12-05 08:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i17_cancel_running'
down_revision = 'i18_alerts'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable without a default: catalog changes only, no table rewrite.
    op.add_column('report_requests', sa.Column('cancel_requested_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('report_requests', sa.Column('cancel_requested_by', sa.String(length=255), nullable=True))


def downgrade():
    op.drop_column('report_requests', 'cancel_requested_by')
    op.drop_column('report_requests', 'cancel_requested_at')
