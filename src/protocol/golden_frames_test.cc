// Requests captured from real clients (tests/golden/requests/, see its
// README) decode without error and re-encode byte for byte.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "strata/protocol/api.h"
#include "strata/protocol/messages/request_header.h"

namespace strata::protocol {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(golden_frames, real_client_requests_round_trip_byte_for_byte) {
    fs::path dir = fs::path(STRATA_SOURCE_DIR) / "tests/golden/requests";
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    std::map<std::string, int> per_client;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (entry.path().extension() != ".bin") continue;
        auto frame = read_file(entry.path());
        SCOPED_TRACE(entry.path().string());
        try {
            reader r(frame);
            const int16_t key = r.read_int16();
            const int16_t version = r.read_int16();
            reader hr(frame);
            messages::request_header header;
            const int16_t header_version = request_header_version(static_cast<api_key>(key), version);
            header.decode(hr, header_version);
            const size_t header_size = hr.position();
            encoded_output out;
            writer w(out);
            header.encode(w, header_version);
            auto body = reencode_request_body(key, version, std::span(frame).subspan(header_size));
            out.bytes.insert(out.bytes.end(), body.bytes.begin(), body.bytes.end());
            EXPECT_EQ(out.bytes, frame);
        } catch (const std::exception& e) {
            ADD_FAILURE() << "threw: " << e.what();
        }
        ++per_client[entry.path().parent_path().filename().string()];
    }
    // kcat/librdkafka, confluent-kafka-python, kafka-python and KafkaJS at least.
    EXPECT_GE(per_client.size(), 4u);
    size_t total = 0;
    for (auto& [client, n] : per_client) total += static_cast<size_t>(n);
    EXPECT_GE(total, 100u);
}

}  // namespace
}  // namespace strata::protocol
