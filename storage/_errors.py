"""Exceptions of the ``storage`` package; each also subclasses the builtin it behaves like."""

from __future__ import annotations


class StorageError(RuntimeError):
    """Base class of every error raised by ``storage``."""


class StorageInternalError(StorageError):
    """The database driver failed; the original SQLAlchemy error is the ``__cause__``."""


class StorageUnavailable(StorageInternalError):
    """The database could not be reached or refused the connection (a server restart, a
    vanished file, a lock held too long): worth retrying later, unlike other driver errors."""


class SchemaError(StorageError):
    """The database schema is not the one this release expects (older, newer or foreign)."""


class StudyNotFound(StorageError, LookupError):
    """No study has the given name."""


class StudyExists(StorageError, ValueError):
    """A study with the given name already exists."""


class TrialNotFound(StorageError, LookupError):
    """No trial has the given id."""


class ArchitectureNotFound(StorageError, LookupError):
    """No architecture has the given id."""


class InvalidTransition(StorageError, ValueError):
    """A trial state change that the state machine forbids (e.g. COMPLETE -> RUNNING)."""


class InvalidQuery(StorageError, ValueError):
    """A ``where`` expression, objective or metric value that cannot be accepted."""
