"""Every error a user can meet, as one readable line (torch-free: the GUI, the CLI and the trainers share it).

Bad input is a ValueError (CheckpointError, CatalogError, ImageFileError...) whose text is already the
message. Operating-system errors (a full or read-only disk, a missing folder, a symlink loop) are named in
words with the file they concern. A malformed file that trips the parser deep down (RecursionError,
OverflowError) is reported as such, never as a traceback.
"""

from __future__ import annotations

import errno

# Errors that describe the user's input or machine, not a bug of ours: shown as their message alone.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, RecursionError, OverflowError, MemoryError)

_OS_WORDS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the disk is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "it is a folder, not a file",
    errno.ELOOP: "the path is a symbolic link loop",
    errno.ENAMETOOLONG: "the file name is too long",
    errno.EIO: "input/output error (a failing disk or a disconnected drive)",
    errno.EEXIST: "it already exists",
    errno.EBUSY: "it is in use",
    errno.EMFILE: "too many open files",
    errno.EFBIG: "the file is too large for this disk",
}


def describe_os_error(exc: OSError) -> str:
    """'photo.png: the disk is full', with the file named when the error names it."""
    words = _OS_WORDS.get(exc.errno or -1) or exc.strerror or str(exc) or type(exc).__name__
    return f"{exc.filename}: {words}" if exc.filename else words


def error_message(exc: BaseException) -> str:
    """A one-line, readable message for the user."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return describe_os_error(exc)
    if isinstance(exc, MemoryError):
        return "out of memory: try a smaller image or size"
    if isinstance(exc, RecursionError):
        return "the file is nested too deeply to read (damaged or hostile)"
    if isinstance(exc, OverflowError):
        return "the file gives a number too large to use (damaged or hostile)"
    text = " ".join(str(exc).split())
    if isinstance(exc, USER_ERRORS) and text:
        return _strip_quotes(text)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _strip_quotes(text: str) -> str:
    """KeyError-like messages arrive quoted ('...'): strip one balanced pair, never a lone quote."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
