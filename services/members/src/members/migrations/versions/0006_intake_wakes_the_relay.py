"""intake: a new request notifies the relay at commit (it acts at once, not at its next beat)

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Once per statement, not per row; PostgreSQL delivers it when the transaction commits
    # (and folds identical notifications of one transaction into one).
    op.execute(
        """
        CREATE FUNCTION intake_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('members_intake', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER intake_notify AFTER INSERT ON intake
            FOR EACH STATEMENT EXECUTE FUNCTION intake_notify();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER intake_notify ON intake; DROP FUNCTION intake_notify();")
