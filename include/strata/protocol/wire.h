// Primitive encoders and decoders of the Kafka wire protocol, shared by every
// generated message type (see src/protocol/codegen/) and by the hand-written
// pieces (record batches, headers).
//
// Safety contract (the class of CVE-2022-34917): a `reader` never allocates
// more than the bytes it has been given justify. Every length and every array
// count is checked against the bytes remaining before anything is allocated,
// and any violation throws `decode_error`, which the connection turns into
// Kafka's answer (an error response or a closed connection).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace strata::protocol {

// Thrown for malformed input: truncated data, impossible lengths, bad varints.
class decode_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Thrown when a value cannot be written at the requested version (a null
// where the version has no null, a count beyond the format's range).
class encode_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Kafka's 128-bit UUID (topic ids, directory ids). The zero value means "none".
struct uuid {
    std::array<uint8_t, 16> bytes{};

    bool is_zero() const;
    // Kafka prints UUIDs as URL-safe base64 without padding (22 characters).
    std::string to_string() const;
    static std::optional<uuid> from_string(std::string_view base64);
    // A random, non-zero UUID that never starts with '-' in its string form
    // (Kafka's rule, so that it can be passed on a command line).
    static uuid random();

    bool operator==(const uuid&) const = default;
};

// A tagged field this build does not know (KIP-482): kept as raw bytes on
// decode and written back on encode, so that proxying or re-encoding a
// message from a newer peer loses nothing.
struct tagged_field {
    uint32_t tag = 0;
    std::vector<uint8_t> data;
    bool operator==(const tagged_field&) const = default;
};
using unknown_tagged_fields = std::vector<tagged_field>;

// A region of an open file, sent with sendfile(2) on plaintext connections.
// `keep_alive` holds whatever keeps `fd` open and the bytes valid (a segment).
struct file_region {
    int fd = -1;
    uint64_t position = 0;
    uint32_t length = 0;
    std::shared_ptr<const void> keep_alive;
};

// The value of a `records` field: record batches that are never parsed or
// copied by the codec. Either a view over memory owned elsewhere (a received
// request frame, kept alive by `owner`) or a file region for zero-copy sends.
class records {
public:
    records() = default;
    static records from_memory(std::span<const uint8_t> bytes, std::shared_ptr<const void> owner = {});
    static records from_file(file_region region);
    // Owns a copy of `bytes` (tests and small payloads).
    static records copy_of(std::span<const uint8_t> bytes);

    size_t size() const { return _region ? _region->length : _bytes.size(); }
    bool is_file() const { return _region.has_value(); }
    // Memory-backed bytes; empty for a file region.
    std::span<const uint8_t> bytes() const { return _bytes; }
    const std::optional<file_region>& region() const { return _region; }

    // Two record sets are equal when they hold the same bytes (memory) or name
    // the same file region.
    bool operator==(const records& other) const;

private:
    std::span<const uint8_t> _bytes;
    std::shared_ptr<const void> _owner;
    std::optional<file_region> _region;
};

// A cursor over received bytes. Throws decode_error on any malformed input.
class reader {
public:
    explicit reader(std::span<const uint8_t> data, std::shared_ptr<const void> owner = {})
        : _data(data), _owner(std::move(owner)) {}

    size_t remaining() const { return _data.size() - _pos; }
    size_t position() const { return _pos; }
    bool empty() const { return remaining() == 0; }

    int8_t read_int8();
    int16_t read_int16();
    uint16_t read_uint16();
    int32_t read_int32();
    uint32_t read_uint32();
    int64_t read_int64();
    double read_float64();
    bool read_bool();
    uuid read_uuid();
    uint32_t read_uvarint();
    int32_t read_varint();   // zig-zag
    int64_t read_varlong();  // zig-zag
    uint64_t read_uvarlong();

    // Strings and byte arrays: `compact` selects the flexible-version form
    // (unsigned varint length + 1) over the classic one (int16 / int32).
    std::string read_string(bool compact);
    std::optional<std::string> read_nullable_string(bool compact);
    std::vector<uint8_t> read_bytes(bool compact);
    std::optional<std::vector<uint8_t>> read_nullable_bytes(bool compact);
    // A view into the input, kept alive by the reader's owner; no copy.
    records read_records(bool compact);
    std::optional<records> read_nullable_records(bool compact);

    // An array's element count; -1 means null. Throws unless
    // count * min_element_size fits in the bytes remaining (with
    // min_element_size taken as at least 1), so a hostile count cannot make
    // the caller reserve memory the frame does not hold.
    int32_t read_array_length(bool compact, size_t min_element_size);

    std::span<const uint8_t> read_raw(size_t n);
    void skip(size_t n) { read_raw(n); }

    // KIP-482 tagged fields: the caller reads the count, then each tag and
    // size; `read_tagged_fields` does it all, handing known tags to `on_tag`
    // (which returns false for tags it does not know; those are kept).
    template <typename OnTag>
    void read_tagged_fields(unknown_tagged_fields& unknown, OnTag&& on_tag) {
        uint32_t count = read_uvarint();
        if (count > remaining()) throw decode_error("tagged field count exceeds frame");
        int64_t last_tag = -1;
        for (uint32_t i = 0; i < count; ++i) {
            uint32_t tag = read_uvarint();
            if (static_cast<int64_t>(tag) <= last_tag) throw decode_error("tagged fields out of order");
            last_tag = tag;
            uint32_t size = read_uvarint();
            auto body = read_raw(size);
            reader sub(body, _owner);
            if (!on_tag(tag, sub)) {
                unknown.push_back(tagged_field{tag, std::vector<uint8_t>(body.begin(), body.end())});
            } else if (!sub.empty()) {
                throw decode_error("tagged field has trailing bytes");
            }
        }
    }

    const std::shared_ptr<const void>& owner() const { return _owner; }

private:
    void need(size_t n) const {
        if (n > remaining()) throw decode_error("truncated input");
    }

    std::span<const uint8_t> _data;
    size_t _pos = 0;
    std::shared_ptr<const void> _owner;
};

// Where a message is encoded to: a byte buffer plus, for records held in
// files, the places where a file region goes between those bytes.
struct encoded_output {
    struct file_insert {
        size_t at = 0;  // the region follows bytes[0, at)
        file_region region;
    };
    std::vector<uint8_t> bytes;
    std::vector<file_insert> file_inserts;

    size_t total_size() const;
};

// Appends to an encoded_output. Writing never fails for well-formed values;
// encode_error is thrown for values the version cannot express.
class writer {
public:
    explicit writer(encoded_output& out) : _out(out) {}

    void write_int8(int8_t v) { put(static_cast<uint8_t>(v)); }
    void write_int16(int16_t v);
    void write_uint16(uint16_t v);
    void write_int32(int32_t v);
    void write_uint32(uint32_t v);
    void write_int64(int64_t v);
    void write_float64(double v);
    void write_bool(bool v) { put(v ? 1 : 0); }
    void write_uuid(const uuid& v) { write_raw(v.bytes); }
    void write_uvarint(uint32_t v);
    void write_uvarlong(uint64_t v);
    void write_varint(int32_t v);
    void write_varlong(int64_t v);

    void write_string(std::string_view v, bool compact);
    void write_nullable_string(const std::optional<std::string>& v, bool compact);
    void write_bytes(std::span<const uint8_t> v, bool compact);
    void write_nullable_bytes(const std::optional<std::vector<uint8_t>>& v, bool compact);
    void write_records(const records& v, bool compact);
    void write_nullable_records(const std::optional<records>& v, bool compact);
    // -1 writes null.
    void write_array_length(int64_t count, bool compact);
    void write_raw(std::span<const uint8_t> v);

    size_t written() const { return _out.total_size(); }

private:
    void put(uint8_t b) { _out.bytes.push_back(b); }
    encoded_output& _out;
};

// A kept unknown tagged field, written back as tag, size and bytes.
void write_unknown_tag(writer& w, const tagged_field& field);
size_t tagged_field_size(const tagged_field& field);

// Encoded sizes of the primitives, for the generated size() functions.
namespace wire_size {
size_t uvarint(uint64_t v);
size_t varint(int32_t v);
size_t varlong(int64_t v);
size_t string(std::string_view v, bool compact);
size_t nullable_string(const std::optional<std::string>& v, bool compact);
size_t bytes(size_t n, bool compact);
size_t nullable_bytes(const std::optional<std::vector<uint8_t>>& v, bool compact);
size_t records(const protocol::records& v, bool compact);
size_t nullable_records(const std::optional<protocol::records>& v, bool compact);
size_t array_length(int64_t count, bool compact);
}  // namespace wire_size

}  // namespace strata::protocol
