"""Fewer index entries per report: events lose the unused (kind, created_at) index; finished_at and a schedule's
reports become partial indexes of the rows their readers ask for

Revision ID: i16_lean_indexes
Revises: i17_bulk_lane
Create Date: 2026-12-05 16:50:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i16_lean_indexes'
down_revision = 'i17_bulk_lane'
branch_labels = None
depends_on = None


def upgrade():
    # No query reads events by kind and time; every event INSERT (four per report) maintained it.
    op.drop_index('ix_report_events_kind_created', table_name='report_events')
    # Every reader of finished_at asks for a range (NOT NULL implied): the create and the claim, which leave it
    # NULL, no longer add an entry.
    op.drop_index('ix_report_requests_finished_at', table_name='report_requests')
    op.create_index('ix_report_requests_finished_at', 'report_requests', ['finished_at'],
                    postgresql_where=sa.text('finished_at IS NOT NULL'))
    # Read only as schedule_id = x: reports of no schedule (API, console) no longer add three entries each.
    op.drop_index('ix_report_requests_schedule_created', table_name='report_requests')
    op.create_index('ix_report_requests_schedule_created', 'report_requests',
                    ['schedule_id', sa.text('created_at DESC'), sa.text('id DESC')],
                    postgresql_where=sa.text('schedule_id IS NOT NULL'))


def downgrade():
    op.drop_index('ix_report_requests_schedule_created', table_name='report_requests')
    op.create_index('ix_report_requests_schedule_created', 'report_requests',
                    ['schedule_id', sa.text('created_at DESC'), sa.text('id DESC')])
    op.drop_index('ix_report_requests_finished_at', table_name='report_requests')
    op.create_index('ix_report_requests_finished_at', 'report_requests', ['finished_at'])
    op.create_index('ix_report_events_kind_created', 'report_events', ['kind', 'created_at'])
