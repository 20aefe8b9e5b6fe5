"""webhooks: report_requests.callback_url (where a completion webhook goes)

Revision ID: i18_callback_url
Revises: 0005_retention
Create Date: 2026-12-05 08:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i18_callback_url'
down_revision = '0005_retention'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable without a default: a catalog change only, no table rewrite.
    op.add_column('report_requests', sa.Column('callback_url', sa.Text(), nullable=True))


def downgrade():
    op.drop_column('report_requests', 'callback_url')
