"""bulk dead-letter requeues name their lane: bulk_jobs.lane (batch | interactive | original)

Revision ID: i17_bulk_lane
Revises: i15_user_names_ci
Create Date: 2026-12-05 11:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i17_bulk_lane'
down_revision = 'i15_user_names_ci'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable, no default: deletes have no lane, and jobs created before lanes requeued to their own queue.
    op.add_column('bulk_jobs', sa.Column('lane', sa.String(length=16), nullable=True))
    op.create_check_constraint('bulk_jobs_lane_check', 'bulk_jobs',
                               "lane IS NULL OR lane IN ('batch','interactive','original')")


def downgrade():
    op.drop_constraint('bulk_jobs_lane_check', 'bulk_jobs', type_='check')
    op.drop_column('bulk_jobs', 'lane')
