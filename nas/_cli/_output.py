"""Files the CLI writes (exports, plots): never a database, never through a link, never an
existing file unless ``--force``.

Every command that writes a file goes through :func:`check_output` (and :func:`write_output`,
which writes atomically), so one rule protects every output: ``nas export 1 -o studies.db``
once replaced a study database with 8 bytes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nas._errors import UserError

SQLITE_MAGIC = b"SQLite format 3\x00"
# SQLite's companions of a database file: replacing one corrupts the database.
_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def _is_database(path: Path) -> bool:
    if any(path.name.endswith(suffix) for suffix in _SQLITE_SIDECARS):
        return path.with_name(path.name.rsplit("-", 1)[0]).exists()
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def check_output(path: str | Path, *, force: bool, option: str = "-o") -> Path:
    """The path to write, after refusing what an output must never replace.

    Args:
        path: where the command was asked to write.
        force: replace an existing regular file (never a database, a link or a folder).
        option: the flag that named ``path``, for the message.

    Raises:
        UserError: the path is a link, a folder, a database file, an existing file without
            ``force``, or in a folder that does not exist.
    """
    target = Path(path)
    if target.is_symlink():
        raise UserError(
            f"{option} {str(target)!r} is a symbolic link; outputs never write through links. "
            "Give the real path or another name."
        )
    if target.is_dir():
        raise UserError(f"{option} {str(target)!r} is a folder; give a file name inside it.")
    if target.exists() and _is_database(target):
        raise UserError(
            f"{option} {str(target)!r} is a database; outputs never replace one, even with "
            "--force. Choose another file name."
        )
    if target.exists() and not force:
        raise UserError(
            f"{option} {str(target)!r} exists; pass --force to replace it, or choose another "
            "file name."
        )
    if not target.parent.is_dir():
        raise UserError(
            f"{option} {str(target)!r}: the folder {str(target.parent)!r} does not exist. "
            "Create it first or choose another path."
        )
    return target


def write_output(path: str | Path, data: bytes | str, *, force: bool, option: str = "-o") -> Path:
    """Check ``path`` with :func:`check_output` and write ``data`` to it atomically.

    The data goes to a temporary file in the same folder that then replaces ``path``: a reader
    never sees half a file, and ``os.replace`` swaps the name itself, so a link created after
    the check is replaced, not followed.
    """
    target = check_output(path, force=force, option=option)
    raw = data.encode() if isinstance(data, str) else data
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(raw)
            # mkstemp makes the file private; an export gets the mode any new file would.
            os.chmod(temp, 0o666 & ~_umask())
            if not force and target.exists():
                raise UserError(
                    f"{option} {str(target)!r} appeared while writing; pass --force to "
                    "replace it, or choose another file name."
                )
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UserError(
            f"Cannot write {option} {str(target)!r}: {exc.strerror}. Choose a writable path."
        ) from exc
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
