"""how families can contact the organisation

Revision ID: 5b0c1e7d9a42
Revises: 837ce9ff61a5
Create Date: 2026-11-30 08:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '5b0c1e7d9a42'
down_revision: Union[str, Sequence[str], None] = '837ce9ff61a5'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('family_contact', sa.String(length=200), server_default='', nullable=False)
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_column('family_contact')
