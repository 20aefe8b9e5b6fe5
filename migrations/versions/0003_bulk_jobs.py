"""bulk_jobs: background dead-letter requeue/delete jobs with progress

Revision ID: 0003_bulk_jobs
Revises: 0001_initial
Create Date: 2026-11-29 12:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003_bulk_jobs'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'bulk_jobs',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('actor', sa.String(length=255), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('queue', sa.String(length=255), nullable=False),
        sa.Column('filter', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        sa.Column('state', sa.String(length=16), server_default='queued', nullable=False),
        sa.Column('snapshot_ms', sa.BigInteger(), nullable=False),
        sa.Column('total', sa.Integer(), server_default='0', nullable=False),
        sa.Column('scanned', sa.Integer(), server_default='0', nullable=False),
        sa.Column('matched', sa.Integer(), server_default='0', nullable=False),
        sa.Column('done', sa.Integer(), server_default='0', nullable=False),
        sa.Column('skipped', sa.Integer(), server_default='0', nullable=False),
        sa.Column('batches', sa.Integer(), server_default='0', nullable=False),
        sa.Column('cursor', sa.Text(), nullable=True),
        sa.Column('run_token', sa.UUID(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.CheckConstraint("action IN ('requeue','delete')", name='bulk_jobs_action_check'),
        sa.CheckConstraint("state IN ('queued','running','done','failed','cancelled')", name='bulk_jobs_state_check'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_bulk_jobs_created_id', 'bulk_jobs',
                    [sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)


def downgrade():
    op.drop_index('ix_bulk_jobs_created_id', table_name='bulk_jobs')
    op.drop_table('bulk_jobs')
