"""audit_log: indexes for the audit page's filters (action, actor), each in the page's order

Revision ID: i15_audit_filters
Revises: i17_report_logs
Create Date: 2026-12-05 09:35:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i15_audit_filters'
down_revision = 'i17_report_logs'
branch_labels = None
depends_on = None


def upgrade():
    # A filtered, newest-first keyset page reads one index range: (filter column, created_at DESC, id DESC).
    op.create_index('ix_audit_log_action_created_id', 'audit_log',
                    ['action', sa.text('created_at DESC'), sa.text('id DESC')])
    op.create_index('ix_audit_log_actor_created_id', 'audit_log',
                    ['actor', sa.text('created_at DESC'), sa.text('id DESC')])


def downgrade():
    op.drop_index('ix_audit_log_actor_created_id', table_name='audit_log')
    op.drop_index('ix_audit_log_action_created_id', table_name='audit_log')
