"""Parsing of Kafka record data (the `records` bytes of Produce and Fetch).

Two formats exist: record batches (magic 2, Kafka 0.11+) and legacy message
sets (magic 0 and 1), where a compressed message wraps an inner message set.
Each is parsed into plain dicts for the golden sidecar files, with every CRC
checked. Decompression uses kafka-python's codec helpers (gzip from the
standard library, snappy with or without xerial framing, LZ4 frames including
the pre-KIP-57 header checksum of magic 0, zstd).
"""

import struct
import zlib

from kafka import codec as kcodec
from kafka.record import _crc32c

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


class RecordError(Exception):
    pass


def crc32c(data):
    return _crc32c.crc(data)


def decompress(codec_id, data, magic):
    if codec_id == 0:
        return data
    if codec_id == 1:
        return kcodec.gzip_decode(data)
    if codec_id == 2:
        return kcodec.snappy_decode(data)  # handles xerial framing and raw blocks
    if codec_id == 3:
        if magic == 0:
            return kcodec.lz4_decode_old_kafka(data)
        return kcodec.lz4_decode(data)
    if codec_id == 4:
        return kcodec.zstd_decode(data)
    raise RecordError("unknown compression codec %d" % codec_id)


def snappy_framing(data):
    return "xerial" if data[:8] == b"\x82SNAPPY\x00" else "raw"


def _varint(buf, pos):
    shift = 0
    value = 0
    while True:
        if pos >= len(buf):
            raise RecordError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise RecordError("varint too long")
    return (value >> 1) ^ -(value & 1), pos


def _varbytes(buf, pos):
    n, pos = _varint(buf, pos)
    if n < 0:
        return None, pos
    if pos + n > len(buf):
        raise RecordError("truncated field")
    return bytes(buf[pos:pos + n]), pos + n


def bytes_json(b):
    """Bytes as JSON: null, or {"hex": digits}, with "utf8": text added when
    the bytes are printable UTF-8 (for people; tests compare "hex")."""
    if b is None:
        return None
    out = {"hex": b.hex()}
    try:
        s = b.decode("utf-8")
        if all(c.isprintable() for c in s):
            out["utf8"] = s
    except UnicodeDecodeError:
        pass
    return out


def magic_of(data):
    if len(data) < 17:
        raise RecordError("records shorter than a batch header")
    return data[16]


def split_entries(data):
    """Top-level entries (batches or legacy messages) as (offset, bytes)."""
    pos = 0
    out = []
    while pos < len(data):
        if pos + 12 > len(data):
            raise RecordError("truncated entry header at %d" % pos)
        base, size = struct.unpack(">qi", data[pos:pos + 12])
        if size < 0 or pos + 12 + size > len(data):
            raise RecordError("entry at %d overruns (%d bytes)" % (pos, size))
        out.append((base, data[pos:pos + 12 + size]))
        pos += 12 + size
    return out


def parse_batch(b):
    """One magic-2 record batch -> dict with header fields and records."""
    (base_offset, length, leader_epoch, magic, crc, attrs, last_delta, first_ts, max_ts,
     pid, pepoch, base_seq, count) = struct.unpack(">qiibIhiqqqhii", b[:61])
    if magic != 2:
        raise RecordError("not a v2 batch")
    if crc32c(b[21:]) != crc:
        raise RecordError("batch CRC-32C mismatch")
    codec_id = attrs & 7
    body = decompress(codec_id, b[61:], 2)
    records = []
    pos = 0
    for _ in range(count):
        rlen, pos = _varint(body, pos)
        end = pos + rlen
        r_attrs = body[pos]
        pos += 1
        ts_delta, pos = _varint(body, pos)
        off_delta, pos = _varint(body, pos)
        key, pos = _varbytes(body, pos)
        value, pos = _varbytes(body, pos)
        nh, pos = _varint(body, pos)
        headers = []
        for _ in range(nh):
            hk, pos = _varbytes(body, pos)
            hv, pos = _varbytes(body, pos)
            headers.append({"key": hk.decode("utf-8"), "value": bytes_json(hv)})
        if pos != end:
            raise RecordError("record length mismatch")
        records.append({
            "attributes": r_attrs, "timestamp_delta": ts_delta, "offset_delta": off_delta,
            "timestamp": first_ts + ts_delta,
            "key": bytes_json(key), "value": bytes_json(value), "headers": headers,
        })
    if pos != len(body):
        raise RecordError("%d bytes after the last record" % (len(body) - pos))
    out = {
        "format": "record_batch", "base_offset": base_offset, "batch_length": length,
        "partition_leader_epoch": leader_epoch, "magic": magic, "crc": crc,
        "attributes": attrs, "compression": CODECS.get(codec_id, str(codec_id)),
        "timestamp_type": "log_append_time" if attrs & 8 else "create_time",
        "is_transactional": bool(attrs & 16), "is_control": bool(attrs & 32),
        "last_offset_delta": last_delta, "base_timestamp": first_ts, "max_timestamp": max_ts,
        "producer_id": pid, "producer_epoch": pepoch, "base_sequence": base_seq,
        "record_count": count, "compressed_size": len(b) - 61, "uncompressed_size": len(body),
        "records": records,
    }
    if codec_id == 2:
        out["snappy_framing"] = snappy_framing(b[61:])
    return out


def parse_legacy_message(b, inner=False):
    offset, size, crc, magic, attrs = struct.unpack(">qiIbb", b[:18])
    if zlib.crc32(b[16:]) & 0xFFFFFFFF != crc:
        raise RecordError("message CRC-32 mismatch")
    pos = 18
    ts = None
    if magic == 1:
        (ts,) = struct.unpack(">q", b[18:26])
        pos = 26
    elif magic != 0:
        raise RecordError("bad legacy magic %d" % magic)

    def read_bytes(pos):
        (n,) = struct.unpack(">i", b[pos:pos + 4])
        if n < 0:
            return None, pos + 4
        return bytes(b[pos + 4:pos + 4 + n]), pos + 4 + n

    key, pos = read_bytes(pos)
    value, pos = read_bytes(pos)
    if pos != len(b):
        raise RecordError("legacy message length mismatch")
    codec_id = attrs & 7
    out = {"offset": offset, "magic": magic, "crc": crc, "attributes": attrs,
           "compression": CODECS.get(codec_id, str(codec_id))}
    if magic == 1:
        out["timestamp"] = ts
        out["timestamp_type"] = "log_append_time" if attrs & 8 else "create_time"
    out["key"] = bytes_json(key)
    if codec_id == 0:
        out["value"] = bytes_json(value)
    else:
        raw = decompress(codec_id, value, magic)
        out["compressed_size"] = len(value)
        if codec_id == 2:
            out["snappy_framing"] = snappy_framing(value)
        out["inner"] = [parse_legacy_message(m, inner=True) for _, m in split_entries(raw)]
    return out


def parse_records(data):
    """All entries of a `records` field, as a list of dicts."""
    if not data:
        return []
    out = []
    for _, entry in split_entries(data):
        if entry[16] == 2:
            out.append(parse_batch(entry))
        else:
            out.append(dict(format="legacy_message", **parse_legacy_message(entry)))
    return out


def record_count(entry):
    """How many offsets one top-level entry occupies."""
    if entry[16] == 2:
        (last_delta,) = struct.unpack(">i", entry[23:27])
        return last_delta + 1
    attrs = entry[17]
    if attrs & 7 == 0:
        return 1
    return len(parse_legacy_message(entry)["inner"])


def codec_of(data):
    entries = split_entries(data)
    if not entries:
        return None
    e = entries[0][1]
    return CODECS.get((struct.unpack(">h", e[21:23])[0] if e[16] == 2 else e[17]) & 7)


def summarize(data):
    """(magic, codec, producer_id, transactional) of the first entry."""
    e = split_entries(data)[0][1]
    if e[16] == 2:
        (attrs,) = struct.unpack(">h", e[21:23])
        (pid,) = struct.unpack(">q", e[43:51])
        return 2, CODECS[attrs & 7], pid, bool(attrs & 16)
    return e[16], CODECS[e[17] & 7], -1, False


def restamp(entry, base_offset, leader_epoch=0):
    """A copy of one entry with the offsets a broker assigns: for a v2 batch the
    base offset and leader epoch (both outside the CRC); for a legacy message the
    offset of the (wrapper) message, which for a compressed magic-1 wrapper is
    the offset of its last inner message."""
    if entry[16] == 2:
        return struct.pack(">q", base_offset) + entry[8:12] + struct.pack(">i", leader_epoch) + entry[16:]
    n = record_count(entry)
    return struct.pack(">q", base_offset + n - 1) + entry[8:]
