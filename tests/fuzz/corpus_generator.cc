// Writes the fuzzers' generated seed corpus (tests/fuzz/corpus/), which is
// committed; run it again after the schemas or the codecs change:
//
//   cmake --build build-fuzz --target fuzz_corpus_generator
//   build-fuzz/tests/fuzz/fuzz_corpus_generator tests/fuzz/corpus tests/golden/batches
//
// It replaces the .bin files of corpus/{requests,responses,records,batches,
// compressed}/ with:
// - requests/:   a frame (request header + body) per API, version and
//                variant: the default-constructed message and two filled with
//                the round-trip tests' sample values (src/protocol/testing/);
// - responses/:  the same for responses, behind the api key and version;
// - records/:    the same for metadata, coordinator and other data schemas,
//                behind the schema's index and the version;
// - batches/:    v2 batches of every codec and kind (builder-made);
// - compressed/: payloads in every codec and framing, and the compressed
//                records of the golden batches.
// Real clients' requests and batches are not copied: the fuzz tests read
// tests/golden/ directly.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "data_schemas_table.h"
#include "protocol_samples.h"
#include "strata/protocol/api.h"
#include "strata/protocol/compression.h"
#include "strata/protocol/messages/request_header.h"
#include "strata/protocol/messages/response_header.h"
#include "strata/protocol/record_batch.h"

namespace fs = std::filesystem;
using namespace strata::protocol;

namespace {

using bytes = std::vector<uint8_t>;

class corpus_dir {
public:
    corpus_dir(const fs::path& root, const std::string& name) : _dir(root / name) {
        fs::create_directories(_dir);
        for (const auto& entry : fs::directory_iterator(_dir))
            if (entry.path().extension() == ".bin") fs::remove(entry.path());
    }
    ~corpus_dir() {
        std::printf("%s: %zu files, %zu bytes\n", _dir.string().c_str(), _files, _bytes);
    }

    void write(const std::string& name, const bytes& data) {
        std::ofstream out(_dir / (name + ".bin"), std::ios::binary);
        out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
        if (!out) throw std::runtime_error("cannot write " + (_dir / name).string());
        ++_files;
        _bytes += data.size();
    }

private:
    fs::path _dir;
    size_t _files = 0;
    size_t _bytes = 0;
};

void append_int16(bytes& out, int16_t v) {
    out.push_back(static_cast<uint8_t>(static_cast<uint16_t>(v) >> 8));
    out.push_back(static_cast<uint8_t>(v));
}

template <typename Header>
bytes encode_header(const Header& header, int16_t version) {
    encoded_output out;
    writer w(out);
    header.encode(w, version);
    return out.bytes;
}

std::string short_name(const std::string& case_name) { return case_name.substr(case_name.find('/') + 1); }

// The variants of one message at one version: the default-constructed
// message and the samples of seeds 0 and 1. A default-constructed message
// does not encode where a field is null by default but not nullable at that
// version (MetadataRequest v0's Topics); it is left out there.
std::vector<std::pair<std::string, bytes>> variants(const std::vector<const testing::message_case*>& cases) {
    std::vector<std::pair<std::string, bytes>> out;
    for (const auto* c : cases) {
        if (c->seed == 0) {
            try {
                out.emplace_back("default", c->encode(false));
            } catch (const encode_error&) {
            }
        }
        if (c->seed <= 1) out.emplace_back("sample" + std::to_string(c->seed), c->encode(true));
    }
    return out;
}

void write_messages(const fs::path& root) {
    auto cases = testing::all_message_cases();
    // name -> version -> cases
    std::map<std::string, std::map<int16_t, std::vector<const testing::message_case*>>> by_name;
    for (const auto& c : cases) by_name[c.name][c.version].push_back(&c);

    corpus_dir requests(root, "requests");
    corpus_dir responses(root, "responses");
    for (const auto& info : all_api_schemas()) {
        std::string name(info.name);
        auto key = static_cast<int16_t>(info.key);
        for (auto& [version, list] : by_name.at("messages/" + name + "Request")) {
            int correlation = 0;
            for (auto& [variant, body] : variants(list)) {
                messages::request_header header;
                header.request_api_key = key;
                header.request_api_version = version;
                header.correlation_id = ++correlation;
                header.client_id = "strata-fuzz";
                bytes frame = encode_header(header, request_header_version(info.key, version));
                frame.insert(frame.end(), body.begin(), body.end());
                requests.write(name + "_v" + std::to_string(version) + "_" + variant, frame);
            }
        }
        for (auto& [version, list] : by_name.at("messages/" + name + "Response")) {
            int correlation = 0;
            for (auto& [variant, body] : variants(list)) {
                messages::response_header header;
                header.correlation_id = ++correlation;
                bytes input;
                append_int16(input, key);
                append_int16(input, version);
                bytes h = encode_header(header, response_header_version(info.key, version));
                input.insert(input.end(), h.begin(), h.end());
                input.insert(input.end(), body.begin(), body.end());
                responses.write(name + "_v" + std::to_string(version) + "_" + variant, input);
            }
        }
    }

    corpus_dir records(root, "records");
    for (size_t i = 0; i < strata::fuzz::data_schema_count; ++i) {
        std::string name(strata::fuzz::data_schemas[i].name);
        for (auto& [version, list] : by_name.at(name)) {
            for (auto& [variant, body] : variants(list)) {
                bytes input{static_cast<uint8_t>(i)};
                append_int16(input, version);
                input.insert(input.end(), body.begin(), body.end());
                records.write(short_name(name) + "_v" + std::to_string(version) + "_" + variant, input);
            }
        }
    }
}

bytes text(size_t n, unsigned seed) {
    static const std::string words[] = {"kafka ", "strata ", "record ", "batch ", "offset ", "{\"id\":", "42, ", "\n"};
    std::mt19937 rng(seed);
    bytes out;
    while (out.size() < n) {
        const auto& w = words[rng() % std::size(words)];
        out.insert(out.end(), w.begin(), w.end());
    }
    out.resize(n);
    return out;
}

bytes random_bytes(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    bytes out(n);
    for (auto& b : out) b = static_cast<uint8_t>(rng());
    return out;
}

constexpr compression_codec all_codecs[] = {compression_codec::none, compression_codec::gzip,
                                            compression_codec::snappy, compression_codec::lz4,
                                            compression_codec::zstd};

bytes build(record_batch_options options, int records, size_t value_size, bool with_headers, bool null_keys = false) {
    record_batch_builder builder(options);
    for (int i = 0; i < records; ++i) {
        bytes key = text(8, static_cast<unsigned>(i));
        bytes value = text(value_size, static_cast<unsigned>(100 + i));
        std::vector<record_header_view> headers;
        bytes header_value = {'v', static_cast<uint8_t>('0' + i % 10)};
        if (with_headers) {
            headers.push_back({"trace-id", bytes_view(header_value)});
            headers.push_back({"null-header", std::nullopt});
        }
        std::optional<bytes_view> k;
        if (!null_keys) k = bytes_view(key);
        builder.append(1700000000000 + i * 17, k, bytes_view(value), headers);
    }
    auto built = builder.build();
    if (!built) throw std::runtime_error("building a seed batch failed");
    return std::move(built.value());
}

void write_batches(const fs::path& root) {
    corpus_dir out(root, "batches");
    for (auto codec : all_codecs) {
        std::string c(compression_codec_name(codec));
        record_batch_options o;
        o.compression = codec;
        out.write(c + "_one_record", build(o, 1, 10, false));
        out.write(c + "_headers", build(o, 5, 40, true));
        out.write(c + "_null_keys", build(o, 3, 20, false, true));
        record_batch_options idempotent = o;
        idempotent.producer_id = 4000;
        idempotent.producer_epoch = 3;
        idempotent.base_sequence = 17;
        out.write(c + "_idempotent", build(idempotent, 4, 30, false));
        record_batch_options transactional = idempotent;
        transactional.is_transactional = true;
        out.write(c + "_transactional", build(transactional, 2, 30, false));
    }
    record_batch_options large;
    large.compression = compression_codec::lz4;
    out.write("lz4_many_records", build(large, 300, 200, false));
    large.compression = compression_codec::snappy;
    out.write("snappy_many_records", build(large, 300, 200, false));

    record_batch_options control;
    control.is_control = true;
    control.is_transactional = true;
    control.producer_id = 4000;
    control.producer_epoch = 3;
    out.write("none_control", build(control, 1, 6, false));

    record_batch_options append_time;
    append_time.timestamp_kind = timestamp_type::log_append_time;
    append_time.log_append_time = 1700000000500;
    out.write("none_log_append_time", build(append_time, 3, 10, false));

    record_batch_options compacted;
    compacted.delete_horizon_ms = 1700000001000;
    compacted.base_offset = 100;
    record_batch_builder cleaned(compacted);
    bytes value = text(12, 7);
    cleaned.append_at(0, 1700000000000, bytes_view(value), bytes_view(value));
    cleaned.append_at(5, 1700000000010, bytes_view(value), std::nullopt);  // a tombstone
    cleaned.append_at(9, 1700000000020, bytes_view(value), bytes_view(value));
    out.write("none_cleaned_with_gaps", cleaned.build().value());

    record_batch_options empty;
    empty.last_offset_delta = 4;
    out.write("none_empty", build(empty, 0, 0, false));

    // Several batches in one payload (replication, fetch).
    record_batch_options first;
    bytes two = build(first, 2, 10, false);
    first.base_offset = 2;
    first.compression = compression_codec::zstd;
    bytes second = build(first, 2, 10, true);
    two.insert(two.end(), second.begin(), second.end());
    out.write("two_batches", two);
}

uint8_t selector(compression_codec codec, int bound_index = 31) {
    return static_cast<uint8_t>((bound_index << 3) | static_cast<int>(codec));
}

bytes with_selector(uint8_t s, const bytes& data) {
    bytes out{s};
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

void write_compressed(const fs::path& root, const fs::path& golden_batches) {
    corpus_dir out(root, "compressed");
    const std::pair<std::string, bytes> payloads[] = {
        {"empty", {}},
        {"short", text(5, 1)},
        {"text", text(1000, 2)},
        {"blocks", text(140000, 3)},  // several LZ4 (64 KiB) and xerial (32 KiB) blocks
        {"random", random_bytes(300, 4)},
    };
    for (auto codec : all_codecs) {
        std::string c(compression_codec_name(codec));
        for (const auto& [name, plain] : payloads) {
            if (codec == compression_codec::none && plain.size() > 4096) continue;  // only long, never interesting
            bytes packed;
            if (!compress(codec, plain, packed)) throw std::runtime_error("compressing a seed failed");
            out.write(c + "_" + name, with_selector(selector(codec), packed));
        }
        // The same text against a bound just below its size (index 9: 4095).
        bytes packed;
        (void)compress(codec, text(4096, 5), packed);
        out.write(c + "_over_bound", with_selector(selector(codec, 9), packed));
    }
    // Framings other clients write: one raw snappy block (librdkafka), two
    // gzip members, two LZ4 frames, two zstd frames.
    bytes xerial;
    (void)compress(compression_codec::snappy, text(500, 6), xerial);
    bytes raw_block(xerial.begin() + 20, xerial.end());  // past the xerial header and the block length
    out.write("snappy_raw_block", with_selector(selector(compression_codec::snappy), raw_block));
    for (auto codec : {compression_codec::gzip, compression_codec::lz4, compression_codec::zstd}) {
        bytes twice;
        (void)compress(codec, text(300, 7), twice);
        (void)compress(codec, text(200, 8), twice);
        out.write(std::string(compression_codec_name(codec)) + "_two_frames", with_selector(selector(codec), twice));
    }
    // The compressed records of real clients' batches.
    if (golden_batches.empty() || !fs::is_directory(golden_batches)) return;
    for (const auto& entry : fs::directory_iterator(golden_batches)) {
        if (entry.path().extension() != ".bin") continue;
        std::ifstream in(entry.path(), std::ios::binary);
        bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto batch = record_batch_view::from(data);
        if (!batch || batch.value().compression() == compression_codec::none) continue;
        bytes records(batch.value().records_data().begin(), batch.value().records_data().end());
        out.write("golden_" + entry.path().stem().string(), with_selector(selector(batch.value().compression()), records));
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s <corpus dir> [<golden batches dir>]\n", argv[0]);
        return 2;
    }
    try {
        fs::path root = argv[1];
        write_messages(root);
        write_batches(root);
        write_compressed(root, argc == 3 ? fs::path(argv[2]) : fs::path());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
