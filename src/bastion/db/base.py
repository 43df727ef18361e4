"""The declarative base all Bastion tables share."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, Text
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names, so migrations can drop or alter them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: Instance-wide facts (schema creation time, instance id, first-start state), created by
#: the root migration ``db_0001``.
bastion_meta = Table(
    "bastion_meta",
    Base.metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text(), nullable=False),
)
