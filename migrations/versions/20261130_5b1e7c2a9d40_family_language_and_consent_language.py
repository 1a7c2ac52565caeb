"""family language, consent language, translation reviews

Revision ID: 5b1e7c2a9d40
Revises: 21b29d787f79
Create Date: 2026-11-30 07:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '5b1e7c2a9d40'
down_revision: Union[str, Sequence[str], None] = '21b29d787f79'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('family', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), server_default='en', nullable=False))

    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), server_default='en', nullable=False))
        batch_op.add_column(sa.Column('translation_version', sa.String(length=20), server_default='', nullable=False))

    op.create_table('translation_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('catalogue_version', sa.String(length=20), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_translation_review_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user.id'], name=op.f('fk_translation_review_reviewed_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_translation_review')),
    sa.UniqueConstraint('organisation_id', 'language', 'catalogue_version', name=op.f('uq_translation_review_organisation_id'))
    )
    with op.batch_alter_table('translation_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_translation_review_organisation_id'), ['organisation_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('translation_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_translation_review_organisation_id'))

    op.drop_table('translation_review')
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.drop_column('translation_version')
        batch_op.drop_column('language')

    with op.batch_alter_table('family', schema=None) as batch_op:
        batch_op.drop_column('language')
