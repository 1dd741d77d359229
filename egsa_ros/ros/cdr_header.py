"""Serialized (CDR) Image and CompressedImage without rclpy message objects: read the header
fields and the payload's place, and write an Image.

The node subscribes with ``raw=True``: every message arrives as the bytes DDS carried. At 30-60
Hz most frames are superseded before the worker gets to them, so the subscription callback
only reads the few fields it needs to reject junk (stamp, frame id, sizes, encoding, the first
payload bytes) and keeps the bytes; the worker decodes the pixels of the one frame it processes
straight from those bytes (``data_offset``), and publishes its images as bytes written by
:func:`image_cdr` (no 1 MB message object built and serialised again per output).

Layout (plain CDR, XCDR1 and XCDR2 for these final types): a 4-byte encapsulation header
(``00 01`` little endian, ``00 00`` big endian; ``00 07`` / ``00 06`` for plain XCDR2), then
the fields in order, each aligned to its own size (at most 4 here) relative to the end of the
encapsulation header. Strings and byte sequences are a uint32 length followed by the bytes
(strings count their NUL).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# encapsulation id (2nd byte) -> struct byte-order prefix
_ENCAPSULATIONS = {0x00: ">", 0x01: "<", 0x06: ">", 0x07: "<"}
MAX_STRING = 4096  # longer frame_id / encoding / format strings are malformed


class CdrError(ValueError):
    """Bytes that are not a well-formed serialized message of the expected type."""


@dataclass(frozen=True)
class ImageFields:
    """What a serialized Image or CompressedImage says about itself.

    ``encoding`` is the Image encoding or the CompressedImage format; height, width, step
    (pixels, pixels, bytes per row) are 0 for a CompressedImage; ``data_len`` is the payload
    length in bytes, ``data_offset`` where it starts in the serialized bytes, ``data_head`` and
    ``data_tail`` its first and last (up to 16) bytes.
    """

    stamp_ns: int
    frame_id: str
    encoding: str
    height: int
    width: int
    step: int
    is_bigendian: int
    data_len: int
    data_head: bytes
    data_tail: bytes
    data_offset: int = 0

    def payload(self, raw: bytes) -> memoryview:
        """The payload (pixels or compressed bytes) inside ``raw``, without a copy."""
        return memoryview(raw)[self.data_offset : self.data_offset + self.data_len]


class _Reader:
    def __init__(self, raw: bytes) -> None:
        if len(raw) < 4 or raw[0] != 0x00 or raw[1] not in _ENCAPSULATIONS:
            head = bytes(raw[:4]).hex(" ")
            raise CdrError(f"not a CDR message (encapsulation header {head or 'missing'})")
        self.raw = raw
        self.order = _ENCAPSULATIONS[raw[1]]
        self.pos = 4

    def _align(self, size: int) -> None:
        self.pos += (-(self.pos - 4)) % size

    def u32(self) -> int:
        self._align(4)
        if self.pos + 4 > len(self.raw):
            raise CdrError(f"message ends after {len(self.raw)} bytes, inside its header fields")
        (value,) = struct.unpack_from(self.order + "I", self.raw, self.pos)
        self.pos += 4
        return value

    def i32(self) -> int:
        value = self.u32()
        return value - (1 << 32) if value >= 1 << 31 else value

    def u8(self) -> int:
        if self.pos + 1 > len(self.raw):
            raise CdrError(f"message ends after {len(self.raw)} bytes, inside its header fields")
        self.pos += 1
        return self.raw[self.pos - 1]

    def string(self, field: str) -> str:
        length = self.u32()
        if length == 0 or length > MAX_STRING or self.pos + length > len(self.raw):
            raise CdrError(f"malformed {field} string (length {length})")
        text = bytes(self.raw[self.pos : self.pos + length - 1])
        self.pos += length
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CdrError(f"{field} is not UTF-8") from exc

    def sequence_head(self) -> tuple:
        length = self.u32()
        available = len(self.raw) - self.pos
        if length > available:
            raise CdrError(f"payload says {length} bytes, only {available} present")
        end = self.pos + length
        head = bytes(self.raw[self.pos : self.pos + min(16, length)])
        return length, head, bytes(self.raw[max(self.pos, end - 16) : end]), self.pos


def _header(reader: _Reader) -> tuple:
    sec = reader.i32()
    nanosec = reader.u32()
    if nanosec >= 1_000_000_000:
        raise CdrError(f"header stamp nanosec {nanosec} >= 1e9")
    return sec * 1_000_000_000 + nanosec, reader.string("frame_id")


def image_fields(raw: bytes) -> ImageFields:
    """The fields of a serialized ``sensor_msgs/msg/Image`` (raises :class:`CdrError`)."""
    reader = _Reader(raw)
    stamp, frame_id = _header(reader)
    height, width = reader.u32(), reader.u32()
    encoding = reader.string("encoding")
    is_bigendian = reader.u8()
    step = reader.u32()
    data_len, head, tail, offset = reader.sequence_head()
    return ImageFields(stamp, frame_id, encoding, height, width, step, is_bigendian, data_len, head, tail, offset)


def compressed_image_fields(raw: bytes) -> ImageFields:
    """The fields of a serialized ``sensor_msgs/msg/CompressedImage`` (raises :class:`CdrError`)."""
    reader = _Reader(raw)
    stamp, frame_id = _header(reader)
    fmt = reader.string("format")
    data_len, head, tail, offset = reader.sequence_head()
    return ImageFields(stamp, frame_id, fmt, 0, 0, 0, 0, data_len, head, tail, offset)


def _cdr_string(text: str, pos: int) -> tuple[bytes, int]:
    """A CDR string at ``pos`` (bytes after the encapsulation header): alignment padding, the
    uint32 length counting the NUL, the UTF-8 bytes and the NUL; returns (bytes, new pos)."""
    encoded = text.encode("utf-8") + b"\0"
    pad = -pos % 4
    return b"\0" * pad + struct.pack("<I", len(encoded)) + encoded, pos + pad + 4 + len(encoded)


def image_cdr(
    stamp_ns: int, frame_id: str, height: int, width: int, encoding: str, step: int, data, is_bigendian: int = 0
) -> bytes:
    """A serialized ``sensor_msgs/msg/Image`` (little-endian plain CDR, as rclpy's
    ``serialize_message`` writes it) for ``Publisher.publish(bytes)``.

    Args:
        stamp_ns: header stamp, integer nanoseconds (>= 0).
        data: the payload, any bytes-like object of ``step * height`` bytes.
    """
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    frame, pos = _cdr_string(frame_id, 8)
    head = b"\x00\x01\x00\x00" + struct.pack("<iI", sec, nanosec) + frame
    pad = -pos % 4
    sizes = b"\0" * pad + struct.pack("<II", int(height), int(width))
    enc, pos = _cdr_string(encoding, pos + pad + 8)
    pad = -(pos + 1) % 4
    tail = struct.pack("<B", int(is_bigendian)) + b"\0" * pad + struct.pack("<II", int(step), memoryview(data).nbytes)
    return b"".join((head, sizes, enc, tail, data))
