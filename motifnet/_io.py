"""Opening the user's input files: the one door every reader goes through.

``open_input(source, what)`` takes a path or an ``http(s)://`` URL and yields a
binary file object that

- refuses anything but a regular file (a directory, ``/dev/zero``, a named pipe,
  a socket), because a device or a pipe can be endless or block forever;
- decompresses gzip transparently, recognised by its two magic bytes and not by
  the file name (``peaks.bed`` may be gzip, ``x.fa.gz`` may be plain text);
- stops with a ``UserError`` after ``max_input_bytes()`` (decompressed) bytes,
  4 GiB unless ``MOTIFNET_MAX_INPUT_BYTES`` says otherwise, so that neither a
  gzip bomb nor a mistaken 100 GB file ends in a ``MemoryError``;
- turns every failure of the file system, the network or the decompressor into
  a one-line ``UserError`` naming the file.

``iter_lines(stream, name)`` reads it as text lines with 1-based numbers,
accepting ``\\n`` and ``\\r\\n`` endings and a UTF-8 byte-order mark, and
naming the line and column of the first byte that is not text.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import re
import stat
import struct
import zlib
from collections.abc import Iterator

from motifnet.errors import UserError

DEFAULT_MAX_INPUT_BYTES = 4 * 1024 ** 3
MAX_INPUT_BYTES_ENV = "MOTIFNET_MAX_INPUT_BYTES"
URL_TIMEOUT = 30.0  # seconds for a download to start answering
BUFFER_SIZE = 1 << 20

GZIP_MAGIC = b"\x1f\x8b"
# Other compressions we cannot read, so that they get a hint instead of "not a text file".
_OTHER_MAGIC = (
    (b"BZh", "bzip2-compressed", "bunzip2"),
    (b"\xfd7zXZ\x00", "xz-compressed", "unxz"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", "unzstd"),
    (b"PK\x03\x04", "a zip archive", "unzip"),
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF8_BOM = b"\xef\xbb\xbf"

# Control characters other than tab, line feed, vertical tab, form feed and carriage
# return: their presence means a binary file, whatever the UTF-8 decoder thinks.
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")

_NOT_REGULAR = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISCHR, "is a character device"),
    (stat.S_ISBLK, "is a block device"),
    (stat.S_ISFIFO, "is a named pipe (FIFO)"),
    (stat.S_ISSOCK, "is a socket"),
)

# What can go wrong while reading: the file system or network (OSError, including
# socket timeouts and gzip.BadGzipFile), http.client's short reads, and the gzip
# module on truncated (EOFError) or corrupt (zlib.error, struct.error) data.
_READ_ERRORS = (OSError, EOFError, zlib.error, struct.error, http.client.HTTPException)


def is_url(source) -> bool:
    """True if ``source`` is an ``http://`` or ``https://`` URL (a str)."""
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def source_name(source) -> str:
    """How messages name ``source``: the URL, or the path as the user wrote it."""
    return os.fsdecode(source) if isinstance(source, (bytes, os.PathLike)) else str(source)


def max_input_bytes() -> int:
    """The most bytes (after decompression) one input may have.

    ``MOTIFNET_MAX_INPUT_BYTES`` (a whole number, e.g. ``20000000000``) if set,
    else 4 GiB.
    """
    raw = os.environ.get(MAX_INPUT_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_INPUT_BYTES
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise UserError(f"{MAX_INPUT_BYTES_ENV}={raw!r} is not a positive whole number of bytes")
    return value


def _human(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


class _Guarded(io.RawIOBase):
    """Read ``inner``, turning its exceptions into ``UserError`` and bounding the total.

    ``failure(exc)`` gives the one-line message for an exception of ``inner``;
    ``limit`` (or None) is the most bytes that may be read before ``UserError``.
    """

    def __init__(self, inner, failure, limit=None, limit_message=None, prefix=b""):
        super().__init__()
        self._inner = inner
        self._failure = failure
        self._limit = limit
        self._limit_message = limit_message
        self._total = 0
        self._prefix = prefix  # bytes already taken from inner, served first

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        if self._limit is not None:
            # one byte past the limit is enough to know the input is too large
            view = view[: max(0, min(len(view), self._limit - self._total + 1))]
        try:
            n = self._inner.readinto(view)
        except UserError:
            raise
        except _READ_ERRORS as exc:
            raise UserError(self._failure(exc)) from None
        n = n or 0
        self._total += n
        if self._limit is not None and self._total > self._limit:
            raise UserError(self._limit_message)
        return n


def _open_path(source, name: str, what: str):
    """A raw binary file object of a regular file, or ``UserError``."""
    try:
        kind = os.stat(source).st_mode
    except FileNotFoundError:
        raise UserError(f"{name}: no such file") from None
    except NotADirectoryError:
        raise UserError(f"{name}: no such file (a part of the path is not a folder)") from None
    except PermissionError:
        raise UserError(f"{name}: permission denied") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise UserError(f"{name}: cannot open: {getattr(exc, 'strerror', None) or exc}") from None
    _refuse_non_regular(kind, name, what)
    # O_NONBLOCK: should the path have become a FIFO since the stat, opening it must not
    # wait for a writer; for a regular file the flag changes nothing and is cleared below.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(source, flags)
    except PermissionError:
        raise UserError(f"{name}: permission denied") from None
    except IsADirectoryError:
        raise UserError(f"{name}: is a directory, not a regular file; expected {what}") from None
    except OSError as exc:
        raise UserError(f"{name}: cannot open: {exc.strerror or exc}") from None
    try:
        _refuse_non_regular(os.fstat(fd).st_mode, name, what)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return io.FileIO(fd, "rb", closefd=True)


def _refuse_non_regular(mode: int, name: str, what: str) -> None:
    if stat.S_ISREG(mode):
        return
    for test, description in _NOT_REGULAR:
        if test(mode):
            break
    else:
        description = "is not a regular file"
    raise UserError(f"{name}: {description}, not a regular file; expected {what}")


def _open_url(url: str, limit: int):
    import urllib.error  # here, not at the top: it costs ~20 ms of start-up
    import urllib.request

    try:
        response = urllib.request.urlopen(url, timeout=URL_TIMEOUT)
    except urllib.error.HTTPError as exc:
        raise UserError(f"{url}: download failed: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise UserError(f"{url}: download failed: {exc.reason}") from None
    except (OSError, ValueError, http.client.HTTPException) as exc:  # timeouts, bad URLs
        raise UserError(f"{url}: download failed: {exc}") from None
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        response.close()
        raise UserError(_limit_message(url, limit, f"announces {int(length)} bytes, more"))
    return response


def _limit_message(name: str, limit: int, found: str) -> str:
    size = f" ({_human(limit)})" if limit >= 1024 else ""
    return (f"{name}: {found} than the input limit of {limit} bytes{size}; "
            f"set the environment variable {MAX_INPUT_BYTES_ENV} to a larger number of bytes "
            f"to raise it")


@contextlib.contextmanager
def open_input(source, what: str = "a text file") -> Iterator[io.BufferedReader]:
    """Open a path or an http(s) URL for reading, gzip or not, with a byte bound.

    Parameters
    ----------
    source : str or path-like
        A file path or an ``http://``/``https://`` URL.
    what : str
        What the file should hold, for messages: ``"a FASTA file"``.

    Yields
    ------
    io.BufferedReader
        The (decompressed) bytes.  Reading it raises ``UserError`` past
        ``max_input_bytes()`` bytes, on corrupt or truncated gzip data, and on
        read or download failures.

    Raises
    ------
    UserError
        One line naming ``source``: no such file, permission denied, not a
        regular file (directory, device, FIFO, socket), download failed, a
        compression other than gzip, corrupt gzip, too large.
    """
    name = source_name(source)
    limit = max_input_bytes()
    with contextlib.ExitStack() as stack:
        if is_url(source):
            raw = stack.enter_context(_open_url(source, limit))
            failure = lambda exc: f"{name}: download failed: {exc}"  # noqa: E731
        else:
            raw = stack.enter_context(_open_path(source, name, what))
            failure = lambda exc: f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}"  # noqa: E731
        guarded = _Guarded(raw, failure)
        # the magic bytes, read until there are 6 or the input ends: one read of a pipe or
        # socket may return fewer bytes than are coming
        head = b""
        while len(head) < 6:
            piece = guarded.read(6 - len(head))
            if not piece:
                break
            head += piece
        compressed = io.BufferedReader(_Guarded(guarded, failure, prefix=head), BUFFER_SIZE)
        stack.callback(compressed.close)
        for magic, description, tool in _OTHER_MAGIC:
            if head.startswith(magic):
                raise UserError(f"{name}: is {description}; only plain or gzip files are read "
                                f"(decompress it first, e.g. with {tool}); expected {what}")
        if head.startswith(GZIP_MAGIC):
            import gzip

            inner = gzip.GzipFile(fileobj=compressed, mode="rb")
            stack.callback(inner.close)
            failure = lambda exc: _gzip_failure(name, exc)  # noqa: E731
            found = "decompresses to more"
        else:
            inner = compressed
            found = "is larger"
        bounded = _Guarded(inner, failure, limit, _limit_message(name, limit, found))
        stream = io.BufferedReader(bounded, BUFFER_SIZE)
        stack.callback(stream.close)
        yield stream


def _gzip_failure(name: str, exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        # EOFError: the data ended early; usually a cut download, sometimes a corrupt header
        return (f"{name}: truncated gzip file (the compressed data ends before its end marker; "
                f"is the file complete?)")
    detail = str(exc) or type(exc).__name__
    return f"{name}: corrupt gzip file ({detail})"


# --------------------------------------------------------------------------- text

def describe_bad_text(data: bytes, k: int, column: int) -> str | None:
    """Why byte ``k`` of ``data`` makes the file not text, or None if it starts a character.

    ``column`` is the 1-based column of that byte, used in the message.
    """
    byte = data[k]
    if byte < 0x80:
        if CONTROL_BYTES.match(data, k):
            return f"not a text file (byte 0x{byte:02x} at column {column} is a control character)"
        return None
    for width in (2, 3, 4):
        try:
            data[k:k + width].decode("utf-8")
            return None
        except UnicodeDecodeError:
            continue
    return f"not a text file (byte 0x{byte:02x} at column {column} is not UTF-8)"


def decode_line(raw: bytes, name: str, number: int) -> str:
    """Decode one line (without its line ending) as UTF-8, or ``UserError`` naming line and column.

    A carriage return inside the line is an error too: it is what a file with
    old Mac line endings (``\\r`` alone) looks like, and read as one line it
    would give baffling messages further on.
    """
    if b"\r" in raw:
        column = len(raw[: raw.index(b"\r")].decode("utf-8", errors="replace")) + 1
        raise UserError(f"{name} line {number}: carriage return (\\r) at column {column} inside "
                        f"a line; expected lines ending in \\n or \\r\\n (convert old Mac line "
                        f"endings with: tr '\\r' '\\n')")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = len(raw[: exc.start].decode("utf-8")) + 1
        raise UserError(f"{name} line {number}: not a text file (byte 0x{raw[exc.start]:02x} "
                        f"at column {column} is not UTF-8)") from None
    control = CONTROL_BYTES.search(raw)
    if control is not None:
        column = len(raw[: control.start()].decode("utf-8")) + 1
        raise UserError(f"{name} line {number}: not a text file (byte "
                        f"0x{raw[control.start()]:02x} at column {column} is a control character)")
    return text


def check_start(head: bytes, name: str) -> int:
    """Bytes to skip at the start of a text stream (a UTF-8 byte-order mark), or ``UserError``."""
    if head.startswith(UTF8_BOM):
        return len(UTF8_BOM)
    if head.startswith(_UTF16_BOMS):
        raise UserError(f"{name}: is UTF-16 text (byte-order mark 0x{head[0]:02x} 0x{head[1]:02x}); "
                        f"expected UTF-8 or ASCII text (convert it, e.g. with iconv -f UTF-16 -t UTF-8)")
    return 0


def iter_lines(stream, name: str) -> Iterator[tuple[int, str]]:
    """``(number, line)`` for each line of a binary stream, numbers from 1.

    The line ending (``\\n``, ``\\r\\n`` or a last line without one) is removed,
    as is a UTF-8 byte-order mark at the start.  A byte that is not UTF-8 text,
    or a control character, is a ``UserError`` naming the line and column.
    """
    for number, raw in enumerate(stream, start=1):
        if number == 1:
            raw = raw[check_start(raw, name):]
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        elif raw.endswith(b"\r"):
            raw = raw[:-1]
        yield number, decode_line(raw, name, number)
