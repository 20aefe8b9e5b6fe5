"""alerts: alert_state (one row per rule: firing or not, since when) and alert_events (history, notifications)

Revision ID: i18_alerts
Revises: i12_report_type_version
Create Date: 2026-12-05 08:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i18_alerts'
down_revision = 'i12_report_type_version'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'alert_state',
        sa.Column('rule', sa.String(length=64), nullable=False),
        sa.Column('firing', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('pending_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('suppressed', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('rule'),
    )
    op.create_table(
        'alert_events',
        sa.Column('id', sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column('rule', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('notify', sa.String(length=16), nullable=False),
        sa.Column('email_done', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('webhook_done', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('notify_attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('notify_error', sa.Text(), nullable=True),
        sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('fired','resolved')", name='alert_events_kind_check'),
        sa.CheckConstraint("notify IN ('pending','sent','suppressed','failed','none')",
                           name='alert_events_notify_check'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_alert_events_at', 'alert_events', [sa.text('at DESC'), sa.text('id DESC')], unique=False)
    op.create_index('ix_alert_events_pending', 'alert_events', ['id'], unique=False,
                    postgresql_where=sa.text("notify = 'pending'"))


def downgrade():
    op.drop_index('ix_alert_events_pending', table_name='alert_events', postgresql_where=sa.text("notify = 'pending'"))
    op.drop_index('ix_alert_events_at', table_name='alert_events')
    op.drop_table('alert_events')
    op.drop_table('alert_state')
