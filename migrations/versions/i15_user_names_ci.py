"""users: names unique case-insensitively (ADMIN and admin are one account)

Revision ID: i15_user_names_ci
Revises: i18_schedule_callback
Create Date: 2026-12-05 09:55:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i15_user_names_ci'
down_revision = 'i18_schedule_callback'
branch_labels = None
depends_on = None


def upgrade():
    clash = op.get_bind().exec_driver_sql(
        "SELECT string_agg(name, ', ') FROM users GROUP BY lower(name) HAVING count(*) > 1 LIMIT 1").scalar()
    if clash:
        # Two accounts differ only in case: which one keeps the name is an operator's decision, not ours.
        raise RuntimeError(f"accounts {clash} differ only in case; rename or remove all but one, then migrate again")
    op.create_index('uq_users_name_lower', 'users', [sa.text('lower(name)')], unique=True)


def downgrade():
    op.drop_index('uq_users_name_lower', table_name='users')
