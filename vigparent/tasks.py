"""Imports every module that defines background jobs, so the consumer knows them all."""

from vigparent import retention  # noqa: F401
