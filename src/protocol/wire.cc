#include "strata/protocol/wire.h"

#include <bit>
#include <cstring>
#include <random>

namespace strata::protocol {

namespace {

template <typename T>
T load_big_endian(const uint8_t* p) {
    using U = std::make_unsigned_t<T>;
    U v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<U>((v << 8) | p[i]);
    return static_cast<T>(v);
}

template <typename T>
void store_big_endian(std::vector<uint8_t>& out, T value) {
    using U = std::make_unsigned_t<T>;
    auto v = static_cast<U>(value);
    uint8_t buf[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i) buf[sizeof(T) - 1 - i] = static_cast<uint8_t>(v >> (8 * i));
    out.insert(out.end(), buf, buf + sizeof(T));
}

constexpr char base64_url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int base64_url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

}  // namespace

// ---- uuid -------------------------------------------------------------------

bool uuid::is_zero() const {
    for (auto b : bytes)
        if (b != 0) return false;
    return true;
}

std::string uuid::to_string() const {
    std::string out;
    out.reserve(22);
    uint32_t acc = 0;
    int bits = 0;
    for (auto b : bytes) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(base64_url_alphabet[(acc >> bits) & 0x3f]);
        }
    }
    if (bits > 0) out.push_back(base64_url_alphabet[(acc << (6 - bits)) & 0x3f]);
    return out;
}

std::optional<uuid> uuid::from_string(std::string_view text) {
    if (text.size() != 22) return std::nullopt;
    uuid result;
    uint32_t acc = 0;
    int bits = 0;
    size_t out = 0;
    for (char c : text) {
        int v = base64_url_value(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out < 16) result.bytes[out++] = static_cast<uint8_t>(acc >> bits);
        }
    }
    // The last character carries 2 padding bits, which must be zero for the
    // text to be the canonical form of these bytes.
    if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return result;
}

uuid uuid::random() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    for (;;) {
        uuid u;
        for (size_t i = 0; i < 16; i += 8) {
            uint64_t r = rng();
            std::memcpy(u.bytes.data() + i, &r, 8);
        }
        // RFC 4122 version 4, variant 1, like java.util.UUID.randomUUID().
        u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0f) | 0x40);
        u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3f) | 0x80);
        if (!u.is_zero() && u.to_string().front() != '-') return u;
    }
}

// ---- records ----------------------------------------------------------------

records records::from_memory(std::span<const uint8_t> bytes, std::shared_ptr<const void> owner) {
    records r;
    r._bytes = bytes;
    r._owner = std::move(owner);
    return r;
}

records records::from_file(file_region region) {
    records r;
    r._region = std::move(region);
    return r;
}

records records::copy_of(std::span<const uint8_t> bytes) {
    auto copy = std::make_shared<std::vector<uint8_t>>(bytes.begin(), bytes.end());
    records r;
    r._bytes = std::span<const uint8_t>(copy->data(), copy->size());
    r._owner = std::move(copy);
    return r;
}

bool records::operator==(const records& other) const {
    if (is_file() != other.is_file()) return false;
    if (is_file()) {
        return _region->fd == other._region->fd && _region->position == other._region->position &&
               _region->length == other._region->length;
    }
    return _bytes.size() == other._bytes.size() &&
           (_bytes.empty() || std::memcmp(_bytes.data(), other._bytes.data(), _bytes.size()) == 0);
}

// ---- reader -----------------------------------------------------------------

int8_t reader::read_int8() {
    need(1);
    return static_cast<int8_t>(_data[_pos++]);
}

#define STRATA_READ_FIXED(name, type)                              \
    type reader::name() {                                          \
        need(sizeof(type));                                        \
        auto v = load_big_endian<type>(_data.data() + _pos);       \
        _pos += sizeof(type);                                      \
        return v;                                                  \
    }
STRATA_READ_FIXED(read_int16, int16_t)
STRATA_READ_FIXED(read_uint16, uint16_t)
STRATA_READ_FIXED(read_int32, int32_t)
STRATA_READ_FIXED(read_uint32, uint32_t)
STRATA_READ_FIXED(read_int64, int64_t)
#undef STRATA_READ_FIXED

double reader::read_float64() { return std::bit_cast<double>(static_cast<uint64_t>(read_int64())); }

bool reader::read_bool() { return read_int8() != 0; }

uuid reader::read_uuid() {
    auto raw = read_raw(16);
    uuid u;
    std::memcpy(u.bytes.data(), raw.data(), 16);
    return u;
}

uint32_t reader::read_uvarint() {
    uint32_t value = 0;
    for (int shift = 0; shift <= 28; shift += 7) {
        need(1);
        uint8_t b = _data[_pos++];
        if (shift == 28 && (b & 0xf0) != 0) throw decode_error("varint overflows 32 bits");
        value |= static_cast<uint32_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0) return value;
    }
    throw decode_error("varint too long");
}

uint64_t reader::read_uvarlong() {
    uint64_t value = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
        need(1);
        uint8_t b = _data[_pos++];
        if (shift == 63 && (b & 0xfe) != 0) throw decode_error("varlong overflows 64 bits");
        value |= static_cast<uint64_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0) return value;
    }
    throw decode_error("varlong too long");
}

int32_t reader::read_varint() {
    uint32_t raw = read_uvarint();
    return static_cast<int32_t>((raw >> 1) ^ (~(raw & 1) + 1));
}

int64_t reader::read_varlong() {
    uint64_t raw = read_uvarlong();
    return static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
}

std::span<const uint8_t> reader::read_raw(size_t n) {
    need(n);
    auto s = _data.subspan(_pos, n);
    _pos += n;
    return s;
}

std::optional<std::string> reader::read_nullable_string(bool compact) {
    int64_t length;
    if (compact) {
        length = static_cast<int64_t>(read_uvarint()) - 1;
    } else {
        length = read_int16();
    }
    if (length < 0) {
        if (length != -1) throw decode_error("negative string length");
        return std::nullopt;
    }
    auto raw = read_raw(static_cast<size_t>(length));
    return std::string(reinterpret_cast<const char*>(raw.data()), raw.size());
}

std::string reader::read_string(bool compact) {
    auto s = read_nullable_string(compact);
    if (!s) throw decode_error("null string where none is allowed");
    return std::move(*s);
}

namespace {
int64_t read_bytes_length(reader& r, bool compact) {
    int64_t length = compact ? static_cast<int64_t>(r.read_uvarint()) - 1 : r.read_int32();
    if (length < -1) throw decode_error("negative bytes length");
    return length;
}
}  // namespace

std::optional<std::vector<uint8_t>> reader::read_nullable_bytes(bool compact) {
    int64_t length = read_bytes_length(*this, compact);
    if (length < 0) return std::nullopt;
    auto raw = read_raw(static_cast<size_t>(length));
    return std::vector<uint8_t>(raw.begin(), raw.end());
}

std::vector<uint8_t> reader::read_bytes(bool compact) {
    auto b = read_nullable_bytes(compact);
    if (!b) throw decode_error("null bytes where none are allowed");
    return std::move(*b);
}

std::optional<records> reader::read_nullable_records(bool compact) {
    int64_t length = read_bytes_length(*this, compact);
    if (length < 0) return std::nullopt;
    return records::from_memory(read_raw(static_cast<size_t>(length)), _owner);
}

records reader::read_records(bool compact) {
    auto r = read_nullable_records(compact);
    if (!r) throw decode_error("null records where none are allowed");
    return std::move(*r);
}

int32_t reader::read_array_length(bool compact, size_t min_element_size) {
    int64_t count = compact ? static_cast<int64_t>(read_uvarint()) - 1 : read_int32();
    if (count < -1) throw decode_error("negative array length");
    if (count > 0) {
        size_t min_size = min_element_size == 0 ? 1 : min_element_size;
        if (static_cast<uint64_t>(count) > remaining() / min_size)
            throw decode_error("array length exceeds the bytes remaining");
    }
    return static_cast<int32_t>(count);
}

// ---- writer -----------------------------------------------------------------

size_t encoded_output::total_size() const {
    size_t n = bytes.size();
    for (const auto& f : file_inserts) n += f.region.length;
    return n;
}

void writer::write_int16(int16_t v) { store_big_endian(_out.bytes, v); }
void writer::write_uint16(uint16_t v) { store_big_endian(_out.bytes, v); }
void writer::write_int32(int32_t v) { store_big_endian(_out.bytes, v); }
void writer::write_uint32(uint32_t v) { store_big_endian(_out.bytes, v); }
void writer::write_int64(int64_t v) { store_big_endian(_out.bytes, v); }
void writer::write_float64(double v) { store_big_endian(_out.bytes, std::bit_cast<uint64_t>(v)); }

void writer::write_uvarlong(uint64_t v) {
    while (v >= 0x80) {
        put(static_cast<uint8_t>(v | 0x80));
        v >>= 7;
    }
    put(static_cast<uint8_t>(v));
}

void writer::write_uvarint(uint32_t v) { write_uvarlong(v); }

void writer::write_varint(int32_t v) {
    write_uvarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
}

void writer::write_varlong(int64_t v) {
    write_uvarlong((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

void writer::write_raw(std::span<const uint8_t> v) { _out.bytes.insert(_out.bytes.end(), v.begin(), v.end()); }

void writer::write_string(std::string_view v, bool compact) {
    if (compact) {
        if (v.size() >= 0x7fffffff) throw encode_error("string too long");
        write_uvarint(static_cast<uint32_t>(v.size() + 1));
    } else {
        if (v.size() > 0x7fff) throw encode_error("string longer than 32767 bytes");
        write_int16(static_cast<int16_t>(v.size()));
    }
    write_raw({reinterpret_cast<const uint8_t*>(v.data()), v.size()});
}

void writer::write_nullable_string(const std::optional<std::string>& v, bool compact) {
    if (v) return write_string(*v, compact);
    if (compact)
        write_uvarint(0);
    else
        write_int16(-1);
}

namespace {
void write_bytes_length(writer& w, int64_t length, bool compact) {
    if (length > 0x7ffffffe) throw encode_error("bytes too long");
    if (compact)
        w.write_uvarint(static_cast<uint32_t>(length + 1));
    else
        w.write_int32(static_cast<int32_t>(length));
}
}  // namespace

void writer::write_bytes(std::span<const uint8_t> v, bool compact) {
    write_bytes_length(*this, static_cast<int64_t>(v.size()), compact);
    write_raw(v);
}

void writer::write_nullable_bytes(const std::optional<std::vector<uint8_t>>& v, bool compact) {
    if (v) return write_bytes(*v, compact);
    write_bytes_length(*this, -1, compact);
}

void writer::write_records(const records& v, bool compact) {
    write_bytes_length(*this, static_cast<int64_t>(v.size()), compact);
    if (v.is_file()) {
        if (v.size() > 0) _out.file_inserts.push_back({_out.bytes.size(), *v.region()});
    } else {
        write_raw(v.bytes());
    }
}

void writer::write_nullable_records(const std::optional<records>& v, bool compact) {
    if (v) return write_records(*v, compact);
    write_bytes_length(*this, -1, compact);
}

void writer::write_array_length(int64_t count, bool compact) {
    if (count > 0x7ffffffe) throw encode_error("array too long");
    if (compact)
        write_uvarint(static_cast<uint32_t>(count + 1));
    else
        write_int32(static_cast<int32_t>(count));
}

void write_unknown_tag(writer& w, const tagged_field& field) {
    w.write_uvarint(field.tag);
    w.write_uvarint(static_cast<uint32_t>(field.data.size()));
    w.write_raw(field.data);
}

size_t tagged_field_size(const tagged_field& field) {
    return wire_size::uvarint(field.tag) + wire_size::uvarint(field.data.size()) + field.data.size();
}

// ---- sizes ------------------------------------------------------------------

namespace wire_size {

size_t uvarint(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

size_t varint(int32_t v) { return uvarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31)); }

size_t varlong(int64_t v) { return uvarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }

size_t string(std::string_view v, bool compact) { return (compact ? uvarint(v.size() + 1) : 2) + v.size(); }

size_t nullable_string(const std::optional<std::string>& v, bool compact) {
    return v ? string(*v, compact) : (compact ? 1 : 2);
}

size_t bytes(size_t n, bool compact) { return (compact ? uvarint(n + 1) : 4) + n; }

size_t nullable_bytes(const std::optional<std::vector<uint8_t>>& v, bool compact) {
    return v ? bytes(v->size(), compact) : (compact ? 1 : 4);
}

size_t records(const protocol::records& v, bool compact) { return bytes(v.size(), compact); }

size_t nullable_records(const std::optional<protocol::records>& v, bool compact) {
    return v ? records(*v, compact) : (compact ? 1 : 4);
}

size_t array_length(int64_t count, bool compact) { return compact ? uvarint(static_cast<uint64_t>(count + 1)) : 4; }

}  // namespace wire_size

}  // namespace strata::protocol
