#include "storage_test_support.h"

#include <stdlib.h>

#include <stdexcept>

namespace strata::storage::testing {

namespace {
protocol::bytes_view as_bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
}  // namespace

std::vector<uint8_t> make_batch(const std::vector<record_spec>& records, protocol::compression_codec codec) {
    protocol::record_batch_options options;
    options.compression = codec;
    protocol::record_batch_builder builder(options);
    for (const auto& r : records) {
        std::optional<protocol::bytes_view> key, value;
        if (r.key) key = as_bytes(*r.key);
        if (r.value) value = as_bytes(*r.value);
        builder.append(r.timestamp, key, value);
    }
    auto built = builder.build();
    if (!built) throw std::runtime_error("build failed");
    return std::move(built.value());
}

std::vector<uint8_t> make_simple_batch(int count, size_t value_size, int64_t timestamp) {
    std::vector<record_spec> records;
    for (int i = 0; i < count; ++i)
        records.push_back({"k" + std::to_string(i), std::string(value_size, char('a' + i % 26)), timestamp});
    return make_batch(records);
}

temp_dir::temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "strata-storage-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    _path = pattern;
}

temp_dir::~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(_path, ec);
}

std::shared_ptr<disk_log> log_fixture::open(const log_config& config, bool recover) {
    disk_log_context context{store.get(), &flush_thread, &time};
    auto log = disk_log::open(log_dir(), tp, config, context, recover);
    if (!log) throw std::runtime_error("open failed: " + to_string(log.error()));
    return log.value();
}

std::vector<uint8_t> read_all(const partition_log& log, offset start, size_t max_bytes) {
    std::vector<uint8_t> out;
    offset next = start;
    while (next < log.end_offset()) {
        auto r = log.read({next, max_bytes, std::nullopt, true});
        if (!r || r.value().region.length == 0) break;
        auto bytes = read_region(r.value().region).value();
        protocol::record_batch_sequence batches(bytes);
        size_t whole = 0;
        for (;;) {
            auto b = batches.next();
            if (!b || !b.value()) break;
            whole = batches.consumed();
            next = offset(b.value()->last_offset() + 1);
        }
        if (whole == 0) break;
        out.insert(out.end(), bytes.begin(), bytes.begin() + ptrdiff_t(whole));
    }
    return out;
}

std::vector<stored_record> read_records(const partition_log& log, offset start) {
    auto bytes = read_all(log, start);
    std::vector<stored_record> out;
    protocol::record_batch_sequence batches(bytes);
    for (;;) {
        auto b = batches.next();
        if (!b || !b.value()) break;
        auto decoded = protocol::decode_records(*b.value(), 64 << 20);
        if (!decoded) throw std::runtime_error("bad batch");
        for (const auto& r : decoded.value().records) {
            stored_record s{offset(b.value()->base_offset() + r.offset_delta), {}, {}};
            if (r.key) s.key = std::string(r.key->begin(), r.key->end());
            if (r.value) s.value = std::string(r.value->begin(), r.value->end());
            if (s.at >= start) out.push_back(std::move(s));
        }
    }
    return out;
}

}  // namespace strata::storage::testing
