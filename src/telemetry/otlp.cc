#include "strata/telemetry/otlp.h"

#include <cstring>
#include <stdexcept>
#include <string_view>

namespace strata::telemetry {

namespace {

// Protobuf wire types.
constexpr int varint = 0, fixed64 = 1, length_delimited = 2, fixed32 = 5;

struct malformed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A cursor over one message's bytes.
class pb_reader {
public:
    explicit pb_reader(std::span<const uint8_t> data) : _data(data) {}
    bool done() const { return _at >= _data.size(); }

    uint64_t read_varint() {
        uint64_t out = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (_at >= _data.size()) throw malformed("truncated varint");
            const uint8_t b = _data[_at++];
            out |= uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80)) return out;
        }
        throw malformed("varint longer than 10 bytes");
    }
    uint64_t read_fixed64() {
        if (_data.size() - _at < 8) throw malformed("truncated fixed64");
        uint64_t out = 0;
        for (int i = 7; i >= 0; --i) out = (out << 8) | _data[_at + i];  // little-endian
        _at += 8;
        return out;
    }
    std::span<const uint8_t> read_bytes() {
        const uint64_t n = read_varint();
        if (n > _data.size() - _at) throw malformed("length past the end of its message");
        auto out = _data.subspan(_at, n);
        _at += n;
        return out;
    }
    // The next field's number and wire type.
    std::pair<uint32_t, int> read_tag() {
        const uint64_t tag = read_varint();
        if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) throw malformed("invalid field number");
        return {uint32_t(tag >> 3), int(tag & 7)};
    }
    void skip(int type) {
        switch (type) {
            case varint:
                read_varint();
                return;
            case fixed64:
                read_fixed64();
                return;
            case length_delimited:
                read_bytes();
                return;
            case fixed32:
                if (_data.size() - _at < 4) throw malformed("truncated fixed32");
                _at += 4;
                return;
            default:
                throw malformed("unsupported wire type " + std::to_string(type));
        }
    }

private:
    std::span<const uint8_t> _data;
    size_t _at = 0;
};

std::string as_string(std::span<const uint8_t> b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

double as_double(uint64_t bits) {
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
}

// AnyValue, as text: strings as they are, numbers and booleans printed.
std::string any_value(std::span<const uint8_t> data) {
    pb_reader r(data);
    std::string out;
    while (!r.done()) {
        auto [field, type] = r.read_tag();
        if (field == 1 && type == length_delimited)
            out = as_string(r.read_bytes());
        else if (field == 2 && type == varint)
            out = r.read_varint() ? "true" : "false";
        else if (field == 3 && type == varint)
            out = std::to_string(int64_t(r.read_varint()));
        else if (field == 4 && type == fixed64) {
            out = std::to_string(as_double(r.read_fixed64()));
        } else
            r.skip(type);  // arrays, key-value lists, bytes: not label material
    }
    return out;
}

// KeyValue{1: key, 2: AnyValue}.
std::pair<std::string, std::string> key_value(std::span<const uint8_t> data) {
    pb_reader r(data);
    std::pair<std::string, std::string> out;
    while (!r.done()) {
        auto [field, type] = r.read_tag();
        if (field == 1 && type == length_delimited)
            out.first = as_string(r.read_bytes());
        else if (field == 2 && type == length_delimited)
            out.second = any_value(r.read_bytes());
        else
            r.skip(type);
    }
    return out;
}

// NumberDataPoint{7: attributes, 3: time_unix_nano, 4: as_double, 6: as_int}.
otlp_point number_point(std::span<const uint8_t> data, const otlp_point& metric) {
    pb_reader r(data);
    otlp_point out = metric;
    while (!r.done()) {
        auto [field, type] = r.read_tag();
        if (field == 7 && type == length_delimited)
            out.labels.push_back(key_value(r.read_bytes()));
        else if (field == 3 && type == fixed64)
            out.time_unix_nano = r.read_fixed64();
        else if (field == 4 && type == fixed64)
            out.value = as_double(r.read_fixed64());
        else if (field == 6 && type == fixed64)
            out.value = double(int64_t(r.read_fixed64()));
        else
            r.skip(type);
    }
    return out;
}

// Gauge{1: data_points} or Sum{1: data_points, 2: temporality, 3: is_monotonic}.
void numbers(std::span<const uint8_t> data, otlp_point metric, std::vector<otlp_point>& out) {
    pb_reader r(data);
    std::vector<std::span<const uint8_t>> points;
    while (!r.done()) {
        auto [field, type] = r.read_tag();
        if (field == 1 && type == length_delimited)
            points.push_back(r.read_bytes());
        else if (field == 2 && type == varint)
            metric.delta = r.read_varint() == 1;  // AGGREGATION_TEMPORALITY_DELTA
        else if (field == 3 && type == varint)
            metric.monotonic = r.read_varint() != 0;
        else
            r.skip(type);
    }
    for (const auto& p : points) out.push_back(number_point(p, metric));
}

// Metric{1: name, 2: description, 5: gauge, 7: sum, 9/10/11: histograms, summary}.
void metric(std::span<const uint8_t> data, const attributes& resource, otlp_metrics& out) {
    pb_reader r(data);
    otlp_point m;
    m.labels = resource;
    std::optional<std::span<const uint8_t>> gauge, sum;
    while (!r.done()) {
        auto [field, type] = r.read_tag();
        if (field == 1 && type == length_delimited)
            m.metric = as_string(r.read_bytes());
        else if (field == 2 && type == length_delimited)
            m.description = as_string(r.read_bytes());
        else if (field == 5 && type == length_delimited)
            gauge = r.read_bytes();
        else if (field == 7 && type == length_delimited)
            sum = r.read_bytes();
        else if ((field == 9 || field == 10 || field == 11) && type == length_delimited) {
            r.read_bytes();
            ++out.skipped;
        } else
            r.skip(type);
    }
    if (gauge) {
        m.type = otlp_point::kind::gauge;
        numbers(*gauge, m, out.points);
    } else if (sum) {
        m.type = otlp_point::kind::sum;
        numbers(*sum, m, out.points);
    }
}

// ResourceMetrics{1: Resource{1: attributes}, 2: ScopeMetrics{2: metrics}}.
void resource_metrics(std::span<const uint8_t> data, otlp_metrics& out) {
    pb_reader r(data);
    attributes resource;
    std::vector<std::span<const uint8_t>> scopes;
    while (!r.done()) {
        auto [field, type] = r.read_tag();
        if (field == 1 && type == length_delimited) {
            pb_reader res(r.read_bytes());
            while (!res.done()) {
                auto [f, t] = res.read_tag();
                if (f == 1 && t == length_delimited)
                    resource.push_back(key_value(res.read_bytes()));
                else
                    res.skip(t);
            }
        } else if (field == 2 && type == length_delimited) {
            scopes.push_back(r.read_bytes());
        } else
            r.skip(type);
    }
    for (const auto& scope : scopes) {
        pb_reader s(scope);
        while (!s.done()) {
            auto [f, t] = s.read_tag();
            if (f == 2 && t == length_delimited)
                metric(s.read_bytes(), resource, out);
            else
                s.skip(t);
        }
    }
}

// ---- encoding (tests) ----

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
    while (v >= 0x80) {
        out.push_back(uint8_t(v) | 0x80);
        v >>= 7;
    }
    out.push_back(uint8_t(v));
}
void put_tag(std::vector<uint8_t>& out, uint32_t field, int type) {
    put_varint(out, (uint64_t(field) << 3) | type);
}
void put_bytes(std::vector<uint8_t>& out, uint32_t field, std::span<const uint8_t> b) {
    put_tag(out, field, length_delimited);
    put_varint(out, b.size());
    out.insert(out.end(), b.begin(), b.end());
}
void put_string(std::vector<uint8_t>& out, uint32_t field, std::string_view s) {
    put_bytes(out, field, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}
void put_fixed64(std::vector<uint8_t>& out, uint32_t field, uint64_t v) {
    put_tag(out, field, fixed64);
    for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
}
std::vector<uint8_t> encode_key_value(const std::pair<std::string, std::string>& kv) {
    std::vector<uint8_t> any, out;
    put_string(any, 1, kv.second);
    put_string(out, 1, kv.first);
    put_bytes(out, 2, any);
    return out;
}

}  // namespace

std::optional<otlp_metrics> decode_otlp_metrics(std::span<const uint8_t> data, std::string* error) {
    try {
        otlp_metrics out;
        pb_reader r(data);
        while (!r.done()) {
            auto [field, type] = r.read_tag();
            if (field == 1 && type == length_delimited)
                resource_metrics(r.read_bytes(), out);
            else
                r.skip(type);
        }
        return out;
    } catch (const malformed& e) {
        if (error) *error = e.what();
        return std::nullopt;
    }
}

std::vector<uint8_t> encode_otlp_metrics(const std::vector<otlp_point>& points, const attributes& resource) {
    std::vector<uint8_t> scope;
    for (const auto& p : points) {
        std::vector<uint8_t> point, numbers, metric;
        for (const auto& kv : p.labels) put_bytes(point, 7, encode_key_value(kv));
        put_fixed64(point, 3, p.time_unix_nano);
        uint64_t bits;
        std::memcpy(&bits, &p.value, sizeof bits);
        put_fixed64(point, 4, bits);
        put_bytes(numbers, 1, point);
        if (p.type == otlp_point::kind::sum) {
            put_tag(numbers, 2, varint);
            put_varint(numbers, p.delta ? 1 : 2);
            put_tag(numbers, 3, varint);
            put_varint(numbers, p.monotonic ? 1 : 0);
        }
        put_string(metric, 1, p.metric);
        if (!p.description.empty()) put_string(metric, 2, p.description);
        put_bytes(metric, p.type == otlp_point::kind::sum ? 7 : 5, numbers);
        put_bytes(scope, 2, metric);
    }
    std::vector<uint8_t> res, rm, out;
    for (const auto& kv : resource) put_bytes(res, 1, encode_key_value(kv));
    put_bytes(rm, 1, res);
    put_bytes(rm, 2, scope);
    put_bytes(out, 1, rm);
    return out;
}

}  // namespace strata::telemetry
