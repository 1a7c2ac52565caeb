"""a recording's frame rate, kept when its transcode is made

Revision ID: 8d3f6a1c2e57
Revises: 5b1e7c2a9d40
Create Date: 2026-11-30 08:50:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '8d3f6a1c2e57'
down_revision: Union[str, Sequence[str], None] = '5b1e7c2a9d40'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('recording', schema=None) as batch_op:
        batch_op.add_column(sa.Column('frame_rate', sa.Float(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('recording', schema=None) as batch_op:
        batch_op.drop_column('frame_rate')
