"""Opening the gradebook where it is kept: an SQLite file by default, PostgreSQL for a URL."""
from __future__ import annotations

from pathlib import Path

from .gradebook import Gradebook, is_database_url
from .gradebook_pg import PostgresGradebook


def open_gradebook(location: str | Path, **options) -> Gradebook:
    """`postgresql://user:password@host/dbname` gives a PostgresGradebook, a path an SQLite one."""
    if is_database_url(location):
        return PostgresGradebook(location, **options)
    return Gradebook(location, **options)
