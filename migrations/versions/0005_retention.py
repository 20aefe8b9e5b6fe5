"""retention: report_requests.file_expired_at and an index of the rows that still hold a file

Revision ID: 0005_retention
Revises: 0004_accounts
Create Date: 2026-12-01 12:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0005_retention'
down_revision = '0004_accounts'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable without a default: a catalog change only, no table rewrite.
    op.add_column('report_requests', sa.Column('file_expired_at', sa.DateTime(timezone=True), nullable=True))
    # CONCURRENTLY so upgrading a live installation does not block report writes while the index builds.
    with op.get_context().autocommit_block():
        op.create_index('ix_report_requests_file_finished', 'report_requests', ['finished_at', 'id'], unique=False,
                        postgresql_where=sa.text('file_path IS NOT NULL'), postgresql_concurrently=True,
                        if_not_exists=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index('ix_report_requests_file_finished', table_name='report_requests',
                      postgresql_where=sa.text('file_path IS NOT NULL'), postgresql_concurrently=True,
                      if_exists=True)
    op.drop_column('report_requests', 'file_expired_at')
