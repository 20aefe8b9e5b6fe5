"""report types from plugins: report_requests.report_type_version (the version that rendered the PDF)

Revision ID: i12_report_type_version
Revises: i18_callback_url
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i12_report_type_version'
down_revision = 'i18_callback_url'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable without a default: a catalog change only, no table rewrite.
    op.add_column('report_requests', sa.Column('report_type_version', sa.String(length=32), nullable=True))


def downgrade():
    op.drop_column('report_requests', 'report_type_version')
