"""each report's own log: report_logs (lines written while a worker handled the report)

Revision ID: i17_report_logs
Revises: i17_queue_pauses
Create Date: 2026-12-05 09:10:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 'i17_report_logs'
down_revision = 'i17_queue_pauses'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_logs',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('report_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('logged_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('level', sa.String(length=16), nullable=False),
        sa.Column('levelno', sa.Integer(), nullable=False),
        sa.Column('logger', sa.String(length=255), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('traceback', sa.Text(), nullable=True),
        sa.Column('worker', sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(['report_id'], ['report_requests.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_report_logs_report_id_id', 'report_logs', ['report_id', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_report_logs_report_id_id', table_name='report_logs')
    op.drop_table('report_logs')
