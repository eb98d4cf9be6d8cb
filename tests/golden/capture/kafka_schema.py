"""A small schema-driven codec for Kafka protocol messages.

It reads Apache Kafka's JSON message definitions (the directory
`kafka-protocol/message/` beside the repository; they are read at run time and
never copied) and decodes or encodes any message at any version listed there:
compact (flexible) encodings, tagged-field sections, nullable fields, common
structs. It is a test tool, independent of the C++ codecs it checks: the golden
vectors are accepted only if this codec decodes each frame completely and
re-encodes it to the same bytes.

Decoded values: ints, bools and floats as Python numbers, strings as `str`,
bytes/records as `bytes` (None when null), uuids as 16 `bytes`, structs as
dicts keyed by the schema's field names, arrays as lists. A decoded struct in a
flexible version also carries `_tagged`, the tags in the order they were read,
with unknown tags kept as raw bytes, so that re-encoding is exact.
"""

import json
import os
import re
import struct

PRIMITIVES = {
    "bool", "int8", "int16", "uint16", "int32", "uint32", "int64", "float64",
    "string", "bytes", "records", "uuid",
}
MAX_VERSION = 0x7FFF
ZERO_UUID = bytes(16)


class DecodeError(Exception):
    pass


def parse_versions(spec):
    """'3+' -> (3, max), '1-4' -> (1, 4), '2' -> (2, 2), 'none'/None -> None."""
    if spec is None:
        return None
    spec = str(spec).strip()
    if spec == "none" or spec == "":
        return None
    if spec.endswith("+"):
        return (int(spec[:-1]), MAX_VERSION)
    if "-" in spec:
        lo, hi = spec.split("-", 1)
        return (int(lo), int(hi))
    return (int(spec), int(spec))


def in_range(rng, version):
    return rng is not None and rng[0] <= version <= rng[1]


def load_json_with_comments(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # Kafka's schema files allow whole-line // comments (never inside strings).
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    return json.loads(text)


class Field:
    __slots__ = ("name", "type", "is_array", "base", "versions", "nullable",
                 "tagged", "tag", "flexible_override", "default_raw", "fields",
                 "ignorable", "_ref")

    def __init__(self, spec, structs):
        self.name = spec["name"]
        self.type = spec["type"]
        self.is_array = self.type.startswith("[]")
        self.base = self.type[2:] if self.is_array else self.type
        self.versions = parse_versions(spec.get("versions"))
        self.nullable = parse_versions(spec.get("nullableVersions"))
        self.tagged = parse_versions(spec.get("taggedVersions"))
        self.tag = spec.get("tag")
        self.flexible_override = (parse_versions(spec["flexibleVersions"])
                                  if "flexibleVersions" in spec else "inherit")
        self.default_raw = spec.get("default")
        self.ignorable = spec.get("ignorable", False)
        self.fields = None
        self._ref = None
        if self.base not in PRIMITIVES:
            if "fields" in spec:
                self.fields = [Field(s, structs) for s in spec["fields"]]
            elif self.base in structs:
                self._ref = structs  # a common struct, resolved on first use
            else:
                raise ValueError("unknown type %s in field %s" % (self.type, self.name))

    def is_struct(self):
        if self.fields is None and self._ref is not None:
            self.fields = self._ref[self.base]
        return self.fields is not None

    def is_tagged(self, version, flexible):
        return flexible and self.tag is not None and in_range(self.tagged, version)

    def default(self, version):
        d = self.default_raw
        if self.is_array:
            if d == "null" and in_range(self.nullable, version):
                return None
            return []
        if self.is_struct():
            return None if d == "null" and in_range(self.nullable, version) else {}
        b = self.base
        if b == "bool":
            return d in (True, "true")
        if b in ("int8", "int16", "uint16", "int32", "uint32", "int64"):
            if d is None or d == "":
                return 0
            return int(d, 0) if isinstance(d, str) else int(d)
        if b == "float64":
            return float(d) if d not in (None, "") else 0.0
        if b == "string":
            if d == "null":
                return None
            return d if d is not None else ""
        if b in ("bytes", "records"):
            if d == "null" or (b == "records" and in_range(self.nullable, version)):
                return None
            return b""
        if b == "uuid":
            return ZERO_UUID
        raise ValueError(b)


class Reader:
    def __init__(self, data, pos=0, end=None):
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def take(self, n):
        if n < 0 or self.pos + n > self.end:
            raise DecodeError("need %d bytes at %d, have %d" % (n, self.pos, self.end - self.pos))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return bytes(b)

    def unpack(self, fmt, n):
        return struct.unpack(fmt, self.take(n))[0]

    def uvarint(self):
        shift = 0
        value = 0
        for i in range(5):
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
        raise DecodeError("uvarint too long")

    def remaining(self):
        return self.end - self.pos


class Writer:
    def __init__(self):
        self.buf = bytearray()

    def pack(self, fmt, v):
        self.buf += struct.pack(fmt, v)

    def uvarint(self, v):
        if v < 0:
            raise ValueError("negative uvarint")
        while v >= 0x80:
            self.buf.append((v & 0x7F) | 0x80)
            v >>= 7
        self.buf.append(v)

    def bytes(self):
        return bytes(self.buf)


_FIXED = {"int8": (">b", 1), "int16": (">h", 2), "uint16": (">H", 2), "int32": (">i", 4),
          "uint32": (">I", 4), "int64": (">q", 8), "float64": (">d", 8)}


class Codec:
    """Decoder/encoder for one message definition (a request, a response, a header)."""

    def __init__(self, spec):
        self.spec = spec
        self.name = spec["name"]
        self.api_key = spec.get("apiKey")
        self.kind = spec["type"]
        self.valid = parse_versions(spec["validVersions"])
        self.flexible = parse_versions(spec.get("flexibleVersions"))
        self.latest_unstable = spec.get("latestVersionUnstable", False)
        structs = {}
        for common in spec.get("commonStructs", []):
            structs[common["name"]] = None  # placeholder for self references
        for common in spec.get("commonStructs", []):
            structs[common["name"]] = [Field(s, structs) for s in common["fields"]]
        self.fields = [Field(s, structs) for s in spec["fields"]]

    def is_flexible(self, version):
        return in_range(self.flexible, version)

    # ---- decoding ----
    def decode(self, data, version, reader=None):
        r = reader or Reader(data)
        return self._read_struct(r, self.fields, version, self.is_flexible(version))

    def _field_flexible(self, f, flexible, version):
        if f.flexible_override == "inherit":
            return flexible
        return in_range(f.flexible_override, version)

    def _read_struct(self, r, fields, version, flexible):
        out = {}
        for f in fields:
            if not in_range(f.versions, version) or f.is_tagged(version, flexible):
                continue
            out[f.name] = self._read_field(r, f, version, self._field_flexible(f, flexible, version))
        if flexible:
            n = r.uvarint()
            order = []
            by_tag = {f.tag: f for f in fields
                      if in_range(f.versions, version) and f.is_tagged(version, flexible)}
            last = -1
            for _ in range(n):
                tag = r.uvarint()
                size = r.uvarint()
                if tag <= last:
                    raise DecodeError("tagged fields out of order: %d after %d" % (tag, last))
                last = tag
                end = r.pos + size
                if end > r.end:
                    raise DecodeError("tagged field %d overruns" % tag)
                f = by_tag.get(tag)
                if f is None:
                    out.setdefault("_unknown_tags", {})[tag] = r.take(size)
                else:
                    sub = Reader(r.data, r.pos, end)
                    out[f.name] = self._read_field(sub, f, version, True)
                    if sub.pos != end:
                        raise DecodeError("tagged field %s: %d bytes left" % (f.name, end - sub.pos))
                    r.pos = end
                order.append(tag)
            out["_tagged"] = order
        return out

    def _read_field(self, r, f, version, flexible):
        nullable = in_range(f.nullable, version)
        if f.is_array:
            if flexible:
                n = r.uvarint() - 1
            else:
                n = r.unpack(">i", 4)
            if n < 0:
                if not nullable:
                    raise DecodeError("null array in non-nullable %s" % f.name)
                return None
            if n > r.remaining():
                raise DecodeError("array %s length %d exceeds frame" % (f.name, n))
            return [self._read_value(r, f, version, flexible, nullable=False) for _ in range(n)]
        return self._read_value(r, f, version, flexible, nullable)

    def _read_value(self, r, f, version, flexible, nullable):
        b = f.base
        if f.is_struct():
            if nullable:  # a nullable struct is preceded by int8 -1 (null) or 1
                marker = r.unpack(">b", 1)
                if marker == -1:
                    return None
                if marker != 1:
                    raise DecodeError("bad presence byte %d for %s" % (marker, f.name))
            return self._read_struct(r, f.fields, version, flexible)
        if b in _FIXED:
            fmt, n = _FIXED[b]
            return r.unpack(fmt, n)
        if b == "bool":
            v = r.take(1)[0]
            if v > 1:
                raise DecodeError("bool %d in %s" % (v, f.name))
            return v == 1
        if b == "uuid":
            return r.take(16)
        if b == "string":
            n = (r.uvarint() - 1) if flexible else r.unpack(">h", 2)
            if n < 0:
                if n != -1 or not nullable:
                    raise DecodeError("bad string length %d in %s" % (n, f.name))
                return None
            return r.take(n).decode("utf-8", "surrogateescape")
        if b in ("bytes", "records"):
            n = (r.uvarint() - 1) if flexible else r.unpack(">i", 4)
            if n < 0:
                if n != -1 or not nullable:
                    raise DecodeError("bad bytes length %d in %s" % (n, f.name))
                return None
            return r.take(n)
        raise DecodeError("type %s" % b)

    # ---- encoding ----
    def encode(self, value, version, writer=None):
        if not in_range(self.valid, version):
            raise ValueError("%s has no version %d" % (self.name, version))
        w = writer or Writer()
        self._write_struct(w, self.fields, value, version, self.is_flexible(version))
        return w.bytes()

    def _write_struct(self, w, fields, value, version, flexible):
        value = value or {}
        for f in fields:
            if not in_range(f.versions, version) or f.is_tagged(version, flexible):
                continue
            v = value[f.name] if f.name in value else f.default(version)
            self._write_field(w, f, v, version, self._field_flexible(f, flexible, version))
        if flexible:
            by_tag = {f.tag: f for f in fields
                      if in_range(f.versions, version) and f.is_tagged(version, flexible)}
            if "_tagged" in value:
                order = value["_tagged"]
            else:
                order = sorted(t for t, f in by_tag.items() if f.name in value)
                order += sorted(value.get("_unknown_tags", {}))
                order = sorted(set(order))
            w.uvarint(len(order))
            for tag in order:
                f = by_tag.get(tag)
                if f is None:
                    data = value["_unknown_tags"][tag]
                else:
                    sub = Writer()
                    self._write_field(sub, f, value[f.name], version, True)
                    data = sub.bytes()
                w.uvarint(tag)
                w.uvarint(len(data))
                w.buf += data

    def _write_field(self, w, f, v, version, flexible):
        nullable = in_range(f.nullable, version)
        if f.is_array:
            if v is None:
                if not nullable:
                    raise ValueError("null for non-nullable array %s" % f.name)
                if flexible:
                    w.uvarint(0)
                else:
                    w.pack(">i", -1)
                return
            if flexible:
                w.uvarint(len(v) + 1)
            else:
                w.pack(">i", len(v))
            for item in v:
                self._write_value(w, f, item, version, flexible, False)
            return
        self._write_value(w, f, v, version, flexible, nullable)

    def _write_value(self, w, f, v, version, flexible, nullable):
        b = f.base
        if f.is_struct():
            if nullable:
                w.pack(">b", -1 if v is None else 1)
                if v is None:
                    return
            elif v is None:
                raise ValueError("null for non-nullable struct %s" % f.name)
            self._write_struct(w, f.fields, v, version, flexible)
        elif b in _FIXED:
            w.pack(_FIXED[b][0], v)
        elif b == "bool":
            w.buf.append(1 if v else 0)
        elif b == "uuid":
            if len(v) != 16:
                raise ValueError("uuid must be 16 bytes")
            w.buf += v
        elif b in ("string", "bytes", "records"):
            if v is None:
                if not nullable:
                    raise ValueError("null for non-nullable %s" % f.name)
                if flexible:
                    w.uvarint(0)
                elif b == "string":
                    w.pack(">h", -1)
                else:
                    w.pack(">i", -1)
                return
            data = v.encode("utf-8", "surrogateescape") if b == "string" else v
            if flexible:
                w.uvarint(len(data) + 1)
            elif b == "string":
                w.pack(">h", len(data))
            else:
                w.pack(">i", len(data))
            w.buf += data
        else:
            raise ValueError(b)


def default_schema_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.abspath(os.path.join(here, "..", "..", ".."))
    candidates = [
        os.environ.get("KAFKA_PROTOCOL_DIR", ""),
        os.path.join(repo, "..", "shared", "kafka-protocol"),
        os.path.join(repo, "..", "kafka-protocol"),
    ]
    for c in candidates:
        if c and os.path.isdir(os.path.join(c, "message")):
            return os.path.abspath(c)
    raise SystemExit("cannot find kafka-protocol/message; set KAFKA_PROTOCOL_DIR")


class Protocol:
    """All request/response definitions plus the two headers."""

    def __init__(self, schema_dir=None):
        schema_dir = schema_dir or default_schema_dir()
        mdir = os.path.join(schema_dir, "message")
        self.requests = {}
        self.responses = {}
        for name in sorted(os.listdir(mdir)):
            if not name.endswith(".json"):
                continue
            spec = load_json_with_comments(os.path.join(mdir, name))
            kind = spec.get("type")
            if kind == "request":
                self.requests[spec["apiKey"]] = Codec(spec)
            elif kind == "response":
                self.responses[spec["apiKey"]] = Codec(spec)
            elif kind == "header" and spec["name"] == "RequestHeader":
                self.request_header = Codec(spec)
            elif kind == "header" and spec["name"] == "ResponseHeader":
                self.response_header = Codec(spec)

    def api_name(self, api_key):
        c = self.requests.get(api_key)
        return c.name[:-len("Request")] if c else "Unknown%d" % api_key

    def request_header_version(self, api_key, api_version):
        if api_key == 7 and api_version == 0:  # ControlledShutdown v0 predates ClientId
            return 0
        c = self.requests.get(api_key)
        return 2 if c is not None and c.is_flexible(api_version) else 1

    def response_header_version(self, api_key, api_version):
        if api_key == 18:  # ApiVersionsResponse always uses header v0 (KIP-511)
            return 0
        c = self.responses.get(api_key)
        return 1 if c is not None and c.is_flexible(api_version) else 0

    def decode_request(self, frame):
        """Returns (header, header_version, body). Raises DecodeError if the frame
        is not exactly one request at its version."""
        if len(frame) < 4:
            raise DecodeError("frame shorter than api key + version")
        api_key, api_version = struct.unpack(">hh", frame[:4])
        codec = self.requests.get(api_key)
        if codec is None:
            raise DecodeError("unknown api key %d" % api_key)
        if not in_range(codec.valid, api_version):
            raise DecodeError("%s v%d not in schema" % (codec.name, api_version))
        hv = self.request_header_version(api_key, api_version)
        r = Reader(frame)
        header = self.request_header.decode(frame, hv, reader=r)
        body = codec.decode(frame, api_version, reader=r)
        if r.pos != len(frame):
            raise DecodeError("%d trailing bytes after %s v%d" % (len(frame) - r.pos, codec.name, api_version))
        return header, hv, body

    def encode_request(self, header, body):
        api_key, api_version = header["RequestApiKey"], header["RequestApiVersion"]
        hv = self.request_header_version(api_key, api_version)
        w = Writer()
        self.request_header.encode(header, hv, writer=w)
        self.requests[api_key].encode(body, api_version, writer=w)
        return w.bytes()

    def encode_response(self, api_key, api_version, correlation_id, body):
        hv = self.response_header_version(api_key, api_version)
        w = Writer()
        self.response_header.encode({"CorrelationId": correlation_id}, hv, writer=w)
        self.responses[api_key].encode(body, api_version, writer=w)
        return w.bytes()


def parse_request_header(frame):
    """A hand-written check of the request header, independent of the schemas:
    int16 api key, int16 api version, int32 correlation id, then a nullable
    string with an int16 length (never compact). Returns (api_key, version,
    correlation_id, client_id, offset_after_client_id)."""
    if len(frame) < 8:
        raise DecodeError("frame too short for a request header")
    api_key, version, corr = struct.unpack(">hhi", frame[:8])
    (n,) = struct.unpack(">h", frame[8:10])
    if n == -1:
        return api_key, version, corr, None, 10
    if n < -1 or 10 + n > len(frame):
        raise DecodeError("bad client id length %d" % n)
    return api_key, version, corr, frame[10:10 + n].decode("utf-8", "replace"), 10 + n
