"""priority lanes: report_requests.priority (interactive | batch)

Revision ID: i17_priority
Revises: i15_audit_filters
Create Date: 2026-12-05 09:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i17_priority'
down_revision = 'i15_audit_filters'
branch_labels = None
depends_on = None


def upgrade():
    # A constant server default: PostgreSQL 11+ adds the column without rewriting the table.
    op.add_column('report_requests', sa.Column('priority', sa.String(length=16), server_default='interactive',
                                               nullable=False))
    op.create_check_constraint('report_requests_priority_check', 'report_requests',
                               "priority IN ('interactive','batch')")


def downgrade():
    op.drop_constraint('report_requests_priority_check', 'report_requests', type_='check')
    op.drop_column('report_requests', 'priority')
