"""Imported by a worker subprocess (``ordertrail worker --import tests.jobs.registered``)."""

from tests.jobs.handlers import register

register()
