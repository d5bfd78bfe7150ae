"""Storage: SQLAlchemy models, Alembic migrations and the repository (the only way in)."""

from __future__ import annotations

from aggregator.store.batch import (
    BatchResult as BatchResult,
)
from aggregator.store.repository import (
    SourceInfo as SourceInfo,
)
from aggregator.store.repository import (
    Store as Store,
)
from aggregator.store.repository import (
    default_db_url as default_db_url,
)

__all__ = ["BatchResult", "SourceInfo", "Store", "default_db_url"]
