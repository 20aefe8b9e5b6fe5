"""schedules: report_schedules, and a report's schedule_id / scheduled_for (unique per slot) and recipients

Revision ID: i13_schedules
Revises: i15_file_sha256
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 'i13_schedules'
down_revision = 'i15_file_sha256'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_schedules',
        sa.Column('id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('report_type', sa.String(length=64), nullable=False),
        sa.Column('params', postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=True),
        sa.Column('cron', sa.String(length=100), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('recipients', postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('paused_reason', sa.Text(), nullable=True),
        sa.Column('misfire', sa.String(length=8), server_default='latest', nullable=False),
        sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_report_id', postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column('created_by', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_by', sa.String(length=255), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("misfire IN ('latest','skip')", name='report_schedules_misfire_check'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name', name='uq_report_schedules_name'),
    )
    op.create_index('ix_report_schedules_due', 'report_schedules', ['next_run_at'], unique=False,
                    postgresql_where=sa.text('enabled'))
    op.create_index('ix_report_schedules_created_id', 'report_schedules',
                    [sa.text('created_at DESC'), sa.text('id DESC')], unique=False)
    # Nullable columns without defaults (and a constant default for notify_emails): catalog changes, no rewrite.
    op.add_column('report_requests', sa.Column('schedule_id', postgresql.UUID(as_uuid=True), nullable=True))
    op.add_column('report_requests', sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=True))
    op.add_column('report_requests', sa.Column('schedule_name', sa.String(length=100), nullable=True))
    op.add_column('report_requests', sa.Column('notify_emails', postgresql.JSONB(),
                                               server_default=sa.text("'[]'::jsonb"), nullable=False))
    op.create_foreign_key('report_requests_schedule_id_fkey', 'report_requests', 'report_schedules',
                          ['schedule_id'], ['id'], ondelete='SET NULL')
    op.create_unique_constraint('uq_report_requests_schedule_slot', 'report_requests',
                                ['schedule_id', 'scheduled_for'])
    op.create_index('ix_report_requests_schedule_created', 'report_requests',
                    ['schedule_id', sa.text('created_at DESC'), sa.text('id DESC')], unique=False)


def downgrade():
    op.drop_index('ix_report_requests_schedule_created', table_name='report_requests')
    op.drop_constraint('uq_report_requests_schedule_slot', 'report_requests', type_='unique')
    op.drop_constraint('report_requests_schedule_id_fkey', 'report_requests', type_='foreignkey')
    op.drop_column('report_requests', 'notify_emails')
    op.drop_column('report_requests', 'schedule_name')
    op.drop_column('report_requests', 'scheduled_for')
    op.drop_column('report_requests', 'schedule_id')
    op.drop_index('ix_report_schedules_created_id', table_name='report_schedules')
    op.drop_index('ix_report_schedules_due', table_name='report_schedules')
    op.drop_table('report_schedules')
