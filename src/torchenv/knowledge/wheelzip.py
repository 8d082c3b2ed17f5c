"""Read single members of a remote wheel (a zip file) by byte ranges.

The layout is the one of PKWARE's APPNOTE.TXT (6.3.x): the end-of-central-directory record
(EOCD, 4.3.16) sits in the last 22 + 65535 bytes; for zip64 files a locator (4.3.15) right before
it points at the zip64 EOCD record (4.3.14), and sizes/offsets of 0xFFFFFFFF are found in the
entry's zip64 extra field (4.5.3). The central directory (4.3.12) gives each member's local
header offset; the local header (4.3.7) has its own name and extra lengths, then the data.
Only stored (0) and deflate (8) members are supported: wheels use nothing else (PEP 427).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from torchenv.i18n import Msg
from torchenv.knowledge.remote import Remote, RemoteFormatError
from torchenv.models.archs import ARCH_FLAGS

_EOCD = struct.Struct("<4s4H2IH")  # signature, disk, cd disk, entries here, entries, size, offset
_EOCD_SIG = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sIQI")  # signature, disk, zip64 EOCD offset, disks
_LOCATOR_SIG = b"PK\x06\x07"
_EOCD64 = struct.Struct("<4sQ2H2I4Q")
_EOCD64_SIG = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s6H3I5H2I")  # 46 bytes (APPNOTE 4.3.12)
_CENTRAL_SIG = b"PK\x01\x02"
_LOCAL = struct.Struct("<4s5H3I2H")
_LOCAL_SIG = b"PK\x03\x04"
TAIL = _EOCD.size + 0xFFFF  # the EOCD and the longest comment it may carry
_LOOKAHEAD = 16  # longer than one more " compute_120a" token
_MAX_SMALL = 8 << 20  # members read whole (version.py, METADATA); larger ones are streamed


@dataclass(frozen=True)
class Member:
    name: str
    method: int
    compressed: int
    size: int
    offset: int  # of the local header


class RemoteZip:
    """The central directory of a remote zip, read once; members read on demand."""

    def __init__(self, remote: Remote, url: str) -> None:
        self.remote = remote
        self.url = url
        tail, self.size = remote.read_tail(url, TAIL)
        cd_offset, cd_size, entries = self._locate_directory(tail)
        tail_start = self.size - len(tail)
        if cd_offset >= tail_start:  # small zips: the directory came with the tail
            directory = tail[cd_offset - tail_start : cd_offset - tail_start + cd_size]
        else:
            directory = remote.read_range(url, cd_offset, cd_size)
        self.members = {m.name: m for m in self._parse_directory(directory, entries)}

    def _bad(self, problem: str) -> RemoteFormatError:
        return RemoteFormatError(
            self.url, Msg("not a readable zip file ({problem})", problem=problem)
        )

    def _locate_directory(self, tail: bytes) -> tuple[int, int, int]:
        at = tail.rfind(_EOCD_SIG)
        while at >= 0 and at + _EOCD.size + _comment_length(tail, at) > len(tail):
            at = tail.rfind(_EOCD_SIG, 0, at)  # the signature bytes inside a comment
        if at < 0:
            raise self._bad(Msg("no end-of-central-directory record in the last 64 KiB"))
        _, _, _, _, entries, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
        locator = at - _LOCATOR.size
        if locator >= 0 and tail[locator : locator + 4] == _LOCATOR_SIG:
            _, _, eocd64_offset, _ = _LOCATOR.unpack_from(tail, locator)
            tail_start = self.size - len(tail)
            if eocd64_offset >= tail_start:
                record = tail[eocd64_offset - tail_start : eocd64_offset - tail_start + 56]
            else:
                record = self.remote.read_range(self.url, eocd64_offset, _EOCD64.size)
            if len(record) < _EOCD64.size or record[:4] != _EOCD64_SIG:
                raise self._bad(Msg("the zip64 locator points at no zip64 end record"))
            fields = _EOCD64.unpack_from(record)
            entries, cd_size, cd_offset = fields[7], fields[8], fields[9]
        if cd_offset + cd_size > self.size:
            raise self._bad(
                Msg(
                    "central directory at {offset}+{size} past the file end",
                    offset=cd_offset,
                    size=cd_size,
                )
            )
        return cd_offset, cd_size, entries

    def _parse_directory(self, data: bytes, entries: int) -> Iterator[Member]:
        pos = 0
        for _ in range(entries):
            if data[pos : pos + 4] != _CENTRAL_SIG or pos + _CENTRAL.size > len(data):
                raise self._bad(
                    Msg("central directory entry at +{position} is damaged", position=pos)
                )
            fields = _CENTRAL.unpack_from(data, pos)
            method, compressed, size = fields[4], fields[8], fields[9]
            name_len, extra_len, comment_len, offset = (
                fields[10],
                fields[11],
                fields[12],
                fields[16],
            )
            start = pos + _CENTRAL.size
            name = data[start : start + name_len].decode("utf-8", "replace")
            extra = data[start + name_len : start + name_len + extra_len]
            size, compressed, offset = _zip64_values(extra, size, compressed, offset)
            yield Member(name, method, compressed, size, offset)
            pos = start + name_len + extra_len + comment_len

    # --- members ------------------------------------------------------------------------------
    def find(self, pattern: str) -> Member | None:
        regex = re.compile(pattern)
        return next((m for m in self.members.values() if regex.fullmatch(m.name)), None)

    def read(self, name: str) -> bytes:
        """A small member, whole and decompressed (version.py, METADATA)."""
        member = self.members.get(name)
        if member is None:
            raise RemoteFormatError(self.url, Msg("the wheel has no {name}", name=name))
        if member.compressed > _MAX_SMALL:
            raise RemoteFormatError(self.url, Msg("{name} is larger than expected", name=name))
        # one request for the local header and the data: its extra field is rarely > 256 bytes
        guess = _LOCAL.size + len(name.encode()) + 256 + member.compressed
        block = self.remote.read_range(self.url, member.offset, guess)
        start = self._data_start(member, block[: _LOCAL.size])
        raw = block[start : start + member.compressed]
        if len(raw) < member.compressed:
            raw += self.remote.read_range(
                self.url, member.offset + start + len(raw), member.compressed - len(raw)
            )
        data = b"".join(_inflate(self, member, iter([raw])))
        if len(data) != member.size:
            raise self._bad(
                Msg(
                    "{name} inflates to {size} bytes, not {expected}",
                    name=name,
                    size=len(data),
                    expected=member.size,
                )
            )
        return data

    def stream(self, name: str, first: int = 1 << 18, largest: int = 4 << 20) -> Iterator[bytes]:
        """The decompressed bytes of a member in pieces, read by ranges of growing size, so a
        caller that stops early stops the reads."""
        member = self.members.get(name)
        if member is None:
            raise RemoteFormatError(self.url, Msg("the wheel has no {name}", name=name))
        header = self.remote.read_range(self.url, member.offset, _LOCAL.size)
        start = member.offset + self._data_start(member, header)
        return _inflate(self, member, self._chunks(start, member.compressed, first, largest))

    def _chunks(self, start: int, total: int, step: int, largest: int) -> Iterator[bytes]:
        done = 0
        while done < total:
            piece = self.remote.read_range(self.url, start + done, min(step, total - done))
            if not piece:
                raise self._bad(Msg("a member ends before its recorded size"))
            done += len(piece)
            yield piece
            step = min(step * 2, largest)

    def _data_start(self, member: Member, header: bytes) -> int:
        """The offset of the data from the local header's start."""
        if len(header) < _LOCAL.size or header[:4] != _LOCAL_SIG:
            raise self._bad(
                Msg(
                    "no local header for {name} at {offset}", name=member.name, offset=member.offset
                )
            )
        name_length, extra_length = _LOCAL.unpack_from(header)[9:11]
        return _LOCAL.size + int(name_length) + int(extra_length)


def _comment_length(tail: bytes, at: int) -> int:
    if at + _EOCD.size > len(tail):
        return 1 << 20  # too close to the end to be a whole record
    return int(_EOCD.unpack_from(tail, at)[7])


def _zip64_values(extra: bytes, size: int, compressed: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, pos)
        if tag == 1:
            values = list(struct.unpack_from(f"<{length // 8}Q", extra, pos + 4))
            # only the fields that overflowed are present, in this order (APPNOTE 4.5.3)
            if size == 0xFFFFFFFF and values:
                size = values.pop(0)
            if compressed == 0xFFFFFFFF and values:
                compressed = values.pop(0)
            if offset == 0xFFFFFFFF and values:
                offset = values.pop(0)
            break
        pos += 4 + length
    return size, compressed, offset


def _inflate(owner: RemoteZip, member: Member, chunks: Iterator[bytes]) -> Iterator[bytes]:
    if member.method == 0:
        yield from chunks
        return
    if member.method != 8:
        raise owner._bad(
            Msg("{name} uses compression method {method}", name=member.name, method=member.method)
        )
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate: no zlib header in zips
    try:
        for chunk in chunks:
            yield inflater.decompress(chunk)
        yield inflater.flush()
    except zlib.error as exc:
        raise owner._bad(
            Msg("{name} does not inflate: {error}", name=member.name, error=str(exc))
        ) from exc


def scan_arch_flags(pieces: Iterator[bytes]) -> tuple[str, ...]:
    """The CUDA_ARCH_FLAGS list in a stream of library bytes: the first complete match, so reading
    stops as soon as it is found; () at the end of the stream. A match is complete when the byte
    after it cannot continue it (the C string ends with NUL) or enough bytes follow for the greedy
    regex to have taken one more token; the tail of each window is kept for the next piece."""
    window = b""
    try:
        for piece in pieces:
            window += piece
            keep = max(0, len(window) - 512)
            for match in ARCH_FLAGS.finditer(window):
                end = match.end()
                after = window[end : end + 1]
                if after and (after not in b" 0123456789af" or len(window) - end > _LOOKAHEAD):
                    return tuple(match.group().decode("ascii").split())
                keep = min(keep, match.start())  # it may go on in the next piece
            window = window[keep:]
        found = ARCH_FLAGS.search(window)
        return tuple(found.group().decode("ascii").split()) if found else ()
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()  # stop the generator: no further range reads
