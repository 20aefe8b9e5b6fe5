"""files: report_requests.file_sha256 (the SHA-256 of the published PDF, recorded with it)

Revision ID: i15_file_sha256
Revises: i17_cancel_running
Create Date: 2026-12-05 08:50:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i15_file_sha256'
down_revision = 'i17_cancel_running'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable without a default: a catalog change only, no table rewrite; older rows simply have none.
    op.add_column('report_requests', sa.Column('file_sha256', sa.String(64), nullable=True))


def downgrade():
    op.drop_column('report_requests', 'file_sha256')
