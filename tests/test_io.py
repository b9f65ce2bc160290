"""motifnet._io: the one door for input files.

Regular files only (a device, FIFO, socket or directory is refused at once,
without blocking), gzip recognised by its magic bytes, corrupt gzip and the
byte bound as one-line ``UserError``s naming the file, and text lines with
their numbers, line endings, byte-order mark and non-text bytes.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import socket
import zipfile

import pytest
from checks import serve_folder
from checks import user_error_message as user_error

from motifnet._io import DEFAULT_MAX_INPUT_BYTES, iter_lines, max_input_bytes, open_input


def read_all(source, what="a test file"):
    with open_input(source, what) as stream:
        return stream.read()


def lines_of(path):
    with open_input(path) as stream:
        return list(iter_lines(stream, str(path)))


# --------------------------------------------------------------------------- opening

def test_plain_and_gzip_are_told_apart_by_content_not_name(tmp_path):
    payload = b">a\nACGT\n" * 1000
    (tmp_path / "gzip_named.fa").write_bytes(gzip.compress(payload))
    (tmp_path / "plain_named.fa.gz").write_bytes(payload)
    assert read_all(tmp_path / "gzip_named.fa") == payload
    assert read_all(tmp_path / "plain_named.fa.gz") == payload


def test_multi_member_gzip(tmp_path):
    # bgzip and `cat a.gz b.gz` make several gzip members; all are read
    (tmp_path / "x.gz").write_bytes(gzip.compress(b"AC\n") + gzip.compress(b"GT\n"))
    assert read_all(tmp_path / "x.gz") == b"AC\nGT\n"


def test_empty_file_reads_empty(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    assert read_all(tmp_path / "empty") == b""


@pytest.mark.parametrize("make, kind", [
    (lambda p: os.mkfifo(p), r"is a named pipe \(FIFO\)"),
    (lambda p: os.mkdir(p), "is a directory"),
])
def test_non_regular_files_are_refused(tmp_path, make, kind):
    path = tmp_path / "thing"
    make(path)
    # a FIFO without a writer would block a plain open() forever: this must return at once
    user_error(read_all, str(path), "a FASTA file",
               match=rf"^{re.escape(str(path))}: {kind}, not a regular file; expected a FASTA file$")


def test_character_device_is_refused():
    # /dev/zero is endless: reading it "to the end" would never finish
    user_error(read_all, "/dev/zero", match=r"^/dev/zero: is a character device, not a regular file")


def test_socket_is_refused(tmp_path):
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        user_error(read_all, str(path), match=r"s\.sock: is a socket, not a regular file")
    finally:
        server.close()


def test_symlink_to_a_regular_file_is_read(tmp_path):
    (tmp_path / "real.txt").write_bytes(b"ACGT\n")
    os.symlink(tmp_path / "real.txt", tmp_path / "link.txt")
    assert read_all(tmp_path / "link.txt") == b"ACGT\n"


def test_missing_paths(tmp_path):
    user_error(read_all, str(tmp_path / "nope.fa"), match=r"nope\.fa: no such file$")
    (tmp_path / "file").write_text("x")
    user_error(read_all, str(tmp_path / "file" / "x.fa"), match=r"no such file \(a part of the path")
    user_error(read_all, "bad\0name", match="cannot open")


@pytest.mark.parametrize("corrupt, match", [
    (lambda gz: gz[:len(gz) // 2], r"truncated gzip file"),
    (lambda gz: gz[:10], r"truncated gzip file"),
    (lambda gz: gz[:2], r"truncated gzip file|corrupt gzip file"),
    (lambda gz: gz[:-8] + b"\x00" * 8, r"corrupt gzip file \(CRC check failed"),
    (lambda gz: gz[:20] + bytes(b ^ 0xFF for b in gz[20:40]) + gz[40:], r"corrupt gzip file"),
    (lambda gz: gz + b"trailing garbage", r"corrupt gzip file"),
    (lambda gz: gz[:3] + b"\xff" + gz[4:], r"truncated gzip file|corrupt gzip file"),  # bad flags
])
def test_corrupt_gzip_is_a_user_error_naming_the_file(tmp_path, corrupt, match):
    good = gzip.compress(os.urandom(2000).hex().encode())
    path = tmp_path / "broken.fa.gz"
    path.write_bytes(corrupt(good))
    message = user_error(read_all, str(path), match=match)
    assert message.startswith(f"{path}: ")


@pytest.mark.parametrize("compress, description", [
    (bz2.compress, "bzip2-compressed"),
    (lzma.compress, "xz-compressed"),
])
def test_other_compressions_get_a_hint(tmp_path, compress, description):
    path = tmp_path / "x.fa"
    path.write_bytes(compress(b">a\nACGT\n"))
    user_error(read_all, str(path), match=rf"x\.fa: is {description}; only plain or gzip files")


def test_zip_archive_gets_a_hint(tmp_path):
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.fa", ">a\nACGT\n")
    user_error(read_all, str(path), match=r"x\.zip: is a zip archive")


# --------------------------------------------------------------------------- byte bound

def test_default_bound_is_4_gib(monkeypatch):
    monkeypatch.delenv("MOTIFNET_MAX_INPUT_BYTES", raising=False)
    assert max_input_bytes() == DEFAULT_MAX_INPUT_BYTES == 4 * 2 ** 30


def test_byte_bound_on_plain_files(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIFNET_MAX_INPUT_BYTES", "100")
    (tmp_path / "ok").write_bytes(b"A" * 100)
    (tmp_path / "big").write_bytes(b"A" * 101)
    assert read_all(tmp_path / "ok") == b"A" * 100  # exactly the limit is allowed
    message = user_error(read_all, str(tmp_path / "big"),
                         match=r"big: is larger than the input limit of 100 bytes; set the "
                               r"environment variable MOTIFNET_MAX_INPUT_BYTES")
    assert "raise it" in message


def test_byte_bound_counts_decompressed_bytes(tmp_path, monkeypatch):
    # a gzip bomb: 2 MB of A compress to ~2 kB
    (tmp_path / "bomb.gz").write_bytes(gzip.compress(b"A" * 2_000_000))
    monkeypatch.setenv("MOTIFNET_MAX_INPUT_BYTES", "1000000")
    assert (tmp_path / "bomb.gz").stat().st_size < 1_000_000
    user_error(read_all, str(tmp_path / "bomb.gz"),
               match=r"bomb\.gz: decompresses to more than the input limit of 1000000 bytes "
                     r"\(977 KiB\)")


def test_byte_bound_while_iterating_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIFNET_MAX_INPUT_BYTES", "50")
    (tmp_path / "lines.txt").write_bytes(b"ACGT\n" * 20)
    user_error(lines_of, tmp_path / "lines.txt", match="input limit of 50 bytes")


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
def test_bad_bound_setting(tmp_path, monkeypatch, value):
    (tmp_path / "x").write_bytes(b"A")
    monkeypatch.setenv("MOTIFNET_MAX_INPUT_BYTES", value)
    user_error(read_all, str(tmp_path / "x"),
               match=rf"MOTIFNET_MAX_INPUT_BYTES='{re.escape(value)}' is not a positive whole number")


# --------------------------------------------------------------------------- URLs

@pytest.fixture(scope="module")
def http_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    (root / "plain.txt").write_bytes(b"AC\nGT\n")
    (root / "packed.txt").write_bytes(gzip.compress(b"AC\nGT\n"))
    (root / "big.txt").write_bytes(b"A" * 5000)
    yield from serve_folder(root)


def test_urls_plain_gzip_and_bound(http_root, monkeypatch):
    assert read_all(f"{http_root}/plain.txt") == b"AC\nGT\n"
    assert read_all(f"{http_root}/packed.txt") == b"AC\nGT\n"
    user_error(read_all, f"{http_root}/missing.txt", match=r"download failed: HTTP 404")
    monkeypatch.setenv("MOTIFNET_MAX_INPUT_BYTES", "1000")
    user_error(read_all, f"{http_root}/big.txt",
               match=r"big\.txt: announces 5000 bytes, more than the input limit of 1000 bytes")


# --------------------------------------------------------------------------- lines

def test_lines_numbers_endings_and_bom(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"\xef\xbb\xbffirst\r\nsecond\n\nlast")
    assert lines_of(path) == [(1, "first"), (2, "second"), (3, ""), (4, "last")]


def test_lines_of_gzip(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(gzip.compress("a\r\nb\u00e9\n".encode()))
    assert lines_of(path) == [(1, "a"), (2, "b\u00e9")]


@pytest.mark.parametrize("raw, match", [
    (b"ok\nAC\xffGT\n", r"x\.txt line 2: not a text file \(byte 0xff at column 3 is not UTF-8\)"),
    (b"ok\nab\xc3\xa9\xc3\n", r"line 2: not a text file \(byte 0xc3 at column 4 is not UTF-8\)"),
    (b"ok\nok\nA\x00B\n", r"line 3: not a text file \(byte 0x00 at column 2 is a control character\)"),
    (b"\xff\xfeA\x00C\x00", r"x\.txt: is UTF-16 text"),
    (b"one\rtwo\rthree\n", r"line 1: carriage return \(\\r\) at column 4 inside a line"),
])
def test_lines_report_non_text(tmp_path, raw, match):
    path = tmp_path / "x.txt"
    path.write_bytes(raw)
    user_error(lines_of, path, match=match)
