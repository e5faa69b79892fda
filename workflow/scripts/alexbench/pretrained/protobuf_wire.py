"""The Protocol Buffers wire format, the part a .caffemodel needs: a reader that walks a file
without holding it, and the encoders the synthetic writer uses.

A message is a sequence of (tag, value); tag = field number << 3 | wire type. Wire types:
0 varint, 1 fixed 64-bit, 2 length-delimited (strings, sub-messages, packed repeated scalars),
5 fixed 32-bit (an unpacked float). Groups (3, 4) are obsolete and refused.
See https://protobuf.dev/programming-guides/encoding/.

Nothing is executed or unpickled: bytes become integers, strings and float32 arrays only. Every
length is checked against the bytes left in its enclosing message before anything is read or
skipped, so a truncated or corrupt file fails with WireFormatError instead of reading garbage
or allocating what a bogus length claims.

Not for: knowing what the fields mean (caffemodel.py).
"""
from __future__ import annotations

import os

import numpy as np

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
MAX_VARINT_BYTES = 10
# A run of unpacked floats is read in blocks of this many (tag, value) records.
UNPACKED_BLOCK_RECORDS = 1 << 16


class WireFormatError(ValueError):
    """The bytes are not a well-formed protobuf message (or are cut short)."""


class _Stream:
    """A binary file and our position in it (one shared position for nested readers)."""

    def __init__(self, f, size: int):
        self.f, self.size, self.pos = f, size, 0

    def read(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise WireFormatError(f"file ends at byte {self.pos + len(data)}, "
                                  f"{n - len(data)} bytes short")
        self.pos += n
        return data

    def seek(self, pos: int) -> None:
        self.f.seek(pos)
        self.pos = pos


class Reader:
    """Reads one message: the bytes of `stream` from its position up to `end`."""

    def __init__(self, stream: _Stream, end: int):
        if end > stream.size:
            raise WireFormatError(f"a field claims bytes up to {end}, but the file has only "
                                  f"{stream.size} (truncated?)")
        self.stream, self.end = stream, end

    @classmethod
    def for_file(cls, f) -> "Reader":
        """A reader of the whole file `f` (opened 'rb'), as one top-level message."""
        size = os.fstat(f.fileno()).st_size
        return cls(_Stream(f, size), size)

    @property
    def position(self) -> int:
        return self.stream.pos

    def at_end(self) -> bool:
        return self.stream.pos >= self.end

    def _take(self, n: int) -> bytes:
        if self.stream.pos + n > self.end:
            raise WireFormatError(f"a value of {n} bytes at byte {self.stream.pos} runs past the "
                                  f"end of its message (byte {self.end}): truncated or corrupt")
        return self.stream.read(n)

    def read_varint(self) -> int:
        value = shift = 0
        for _ in range(MAX_VARINT_BYTES):
            byte = self._take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
        raise WireFormatError(f"varint longer than {MAX_VARINT_BYTES} bytes at byte "
                              f"{self.stream.pos}")

    def read_tag(self) -> tuple[int, int]:
        """(field number, wire type) of the next field."""
        tag = self.read_varint()
        field, wire_type = tag >> 3, tag & 7
        if field == 0 or wire_type not in (VARINT, FIXED64, LENGTH_DELIMITED, FIXED32):
            raise WireFormatError(f"invalid tag {tag} (field {field}, wire type {wire_type}) "
                                  f"at byte {self.stream.pos}: not a protobuf message here")
        return field, wire_type

    def read_length(self) -> int:
        n = self.read_varint()
        if self.stream.pos + n > self.end:
            raise WireFormatError(f"a field of {n} bytes at byte {self.stream.pos} runs past the "
                                  f"end of its message (byte {self.end}): truncated or corrupt")
        return n

    def read_string(self, limit: int = 1 << 16) -> str:
        n = self.read_length()
        if n > limit:
            raise WireFormatError(f"a {n}-byte string at byte {self.stream.pos} (at most {limit} "
                                  "expected here)")
        return self._take(n).decode("utf-8", errors="replace")

    def sub_reader(self) -> "Reader":
        """A reader of the length-delimited sub-message that starts here."""
        n = self.read_length()
        return Reader(self.stream, self.stream.pos + n)

    def skip(self, wire_type: int) -> None:
        if wire_type == VARINT:
            self.read_varint()
            return
        n = {FIXED64: 8, FIXED32: 4}.get(wire_type)
        if n is None:
            n = self.read_length()
        if self.stream.pos + n > self.end:
            raise WireFormatError(f"a field of {n} bytes at byte {self.stream.pos} runs past the "
                                  f"end of its message (byte {self.end}): truncated or corrupt")
        self.stream.seek(self.stream.pos + n)

    def skip_rest(self) -> None:
        self.stream.seek(self.end)

    def read_packed_varints(self) -> list[int]:
        sub = self.sub_reader()
        values = []
        while not sub.at_end():
            values.append(sub.read_varint())
        return values

    def read_packed_floats(self) -> np.ndarray:
        """A packed repeated float field, read straight into one little-endian float32 array."""
        n = self.read_length()
        if n % 4:
            raise WireFormatError(f"packed floats of {n} bytes at byte {self.stream.pos}: not a "
                                  "multiple of 4")
        values = np.empty(n // 4, dtype="<f4")
        view = memoryview(values).cast("B")
        got = self.stream.f.readinto(view)
        if got != n:
            raise WireFormatError(f"file ends inside packed floats at byte {self.stream.pos + got}")
        self.stream.pos += n
        return values

    def read_unpacked_floats(self, field: int) -> np.ndarray:
        """After a (field, FIXED32) tag: that float and every directly following one of the same
        field (the run an unpacked repeated float field is written as), in blocks."""
        chunks = [np.frombuffer(self._take(4), dtype="<f4")]
        tag_byte = (field << 3) | FIXED32
        if tag_byte > 0x7F:  # a two-byte tag: not a float field of Caffe's; one value at a time
            return chunks[0].copy()
        while True:
            records = min(UNPACKED_BLOCK_RECORDS, (self.end - self.stream.pos) // 5)
            if records == 0:
                break
            start = self.stream.pos
            block = np.frombuffer(self.stream.read(records * 5), dtype=np.uint8).reshape(records, 5)
            is_float = block[:, 0] == tag_byte
            run = records if is_float.all() else int(np.argmin(is_float))
            chunks.append(np.ascontiguousarray(block[:run, 1:]).view("<f4").ravel())
            if run < records:
                self.stream.seek(start + run * 5)
                break
        return np.concatenate(chunks)


# --- encoding (the synthetic writer and tests) ----------------------------------------------

def encode_varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 negatives are ten-byte varints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_tag(field: int, wire_type: int) -> bytes:
    return encode_varint(field << 3 | wire_type)


def encode_varint_field(field: int, value: int) -> bytes:
    return encode_tag(field, VARINT) + encode_varint(value)


def encode_bytes_field(field: int, data: bytes) -> bytes:
    return encode_tag(field, LENGTH_DELIMITED) + encode_varint(len(data)) + data


def encode_string_field(field: int, text: str) -> bytes:
    return encode_bytes_field(field, text.encode("utf-8"))


def encode_packed_varints(field: int, values) -> bytes:
    return encode_bytes_field(field, b"".join(encode_varint(int(v)) for v in values))


def packed_floats_parts(field: int, values: np.ndarray) -> list:
    """A packed float field as [header, data view]: the data is not copied."""
    data = np.ascontiguousarray(values, dtype="<f4").reshape(-1)
    return [encode_tag(field, LENGTH_DELIMITED) + encode_varint(data.nbytes),
            memoryview(data).cast("B")]


def unpacked_floats_bytes(field: int, values: np.ndarray) -> bytes:
    """An unpacked repeated float field: (tag, 4 bytes) per value."""
    data = np.ascontiguousarray(values, dtype="<f4").reshape(-1)
    records = np.empty((data.size, 5), dtype=np.uint8)
    records[:, 0] = field << 3 | FIXED32
    records[:, 1:] = data.view(np.uint8).reshape(-1, 4)
    return records.tobytes()


def message_parts(field: int, parts: list) -> list:
    """A length-delimited sub-message made of `parts` (bytes or memoryviews), uncopied."""
    size = sum(len(p) if isinstance(p, bytes) else p.nbytes for p in parts)
    return [encode_tag(field, LENGTH_DELIMITED) + encode_varint(size)] + parts
