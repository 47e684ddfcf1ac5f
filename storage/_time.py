"""Timestamps: stored as naive UTC (portable across SQLite and PostgreSQL), shown as ISO 8601 Z."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def to_db(value: str | datetime | None) -> datetime:
    """Parse an ISO string or datetime into naive UTC; ``None`` means now."""
    if value is None:
        return utcnow()
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return stamp


def from_db(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() + "Z"
