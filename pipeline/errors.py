"""One-line messages for the errors a user can meet: a full disk, a denied write, an internal file
that went missing. The CLI prints these instead of a traceback; the flow uses `retryable` so that
only errors another try can cure are retried (a full disk stays full)."""

from __future__ import annotations

import errno
import os
import shutil

__all__ = ["describe_error", "retryable"]

#: errno values another attempt cannot fix.
PERMANENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.EFBIG}


def retryable(e: BaseException) -> bool:
    """I/O errors worth another try: network errors, timeouts, EIO; not a full disk, a denied write
    or a missing file."""
    if not isinstance(e, OSError):
        return False
    if isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)):
        return False
    return e.errno not in PERMANENT_ERRNOS


def _free(path: str) -> str:
    probe = os.path.abspath(path)
    while probe and not os.path.exists(probe):
        probe = os.path.dirname(probe)
    try:
        usage = shutil.disk_usage(probe or "/")
    except OSError:
        return "free space unknown"
    return f"{usage.free / 1e6:,.1f} MB free of {usage.total / 1e9:,.1f} GB on the filesystem of {probe}"


def describe_error(e: BaseException, where: str | None = None) -> str:
    """A message that names the file (or OUT, `where`) and what to do."""
    msg = str(e)
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        path = e.filename or where or "."
        return f"no space left on device while writing {path} ({_free(str(path))}): free some space and rerun (finished shards are kept)"
    if isinstance(e, PermissionError):
        return f"permission denied: {e.filename or where or msg}"
    bare = msg.strip("'\" ")
    if bare and " " not in bare and ("/" in bare or os.sep in bare):
        return (
            f"{type(e).__name__}: {bare}: an internal file was missing or changed while the run used it "
            "(is another process writing the same OUT?); rerun"
        )
    return msg
