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

# CONCURRENTLY throughout (as 0005_retention): a live installation keeps creating and finishing reports while
# the indexes build. Each index is rebuilt under a temporary name, the old one dropped, the new one renamed:
# the table is never without an index for its readers. Each step is safe to run again after a failure.
FINISHED = ('ix_report_requests_finished_at', ['finished_at'])
SCHEDULE = ('ix_report_requests_schedule_created',
            ['schedule_id', sa.text('created_at DESC'), sa.text('id DESC')])
PARTIAL = {FINISHED[0]: 'finished_at IS NOT NULL', SCHEDULE[0]: 'schedule_id IS NOT NULL'}


def _replace(name, columns, where):
    """Index `name` rebuilt on report_requests (partial when `where`) without blocking its writers."""
    temporary = f'{name}_i16'
    # A build that failed halfway leaves an invalid index behind: dropped before building again.
    op.drop_index(temporary, table_name='report_requests', postgresql_concurrently=True, if_exists=True)
    op.create_index(temporary, 'report_requests', columns, postgresql_concurrently=True,
                    postgresql_where=sa.text(where) if where else None)
    op.drop_index(name, table_name='report_requests', postgresql_concurrently=True, if_exists=True)
    op.execute(f'ALTER INDEX {temporary} RENAME TO {name}')


def upgrade():
    with op.get_context().autocommit_block():
        # No query reads events by kind and time; every event INSERT (four per report) maintained it.
        op.drop_index('ix_report_events_kind_created', table_name='report_events', postgresql_concurrently=True,
                      if_exists=True)
        # Every reader of finished_at asks for a range (NOT NULL implied): the create and the claim, which leave
        # it NULL, no longer add an entry.
        _replace(*FINISHED, PARTIAL[FINISHED[0]])
        # Read only as schedule_id = x: reports of no schedule (API, console) no longer add three entries each.
        _replace(*SCHEDULE, PARTIAL[SCHEDULE[0]])


def downgrade():
    with op.get_context().autocommit_block():
        _replace(*SCHEDULE, None)
        _replace(*FINISHED, None)
        op.create_index('ix_report_events_kind_created', 'report_events', ['kind', 'created_at'],
                        postgresql_concurrently=True, if_not_exists=True)
