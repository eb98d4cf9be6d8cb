// Hand-checked encodings of the generated codecs' special cases: header
// versions, non-compact ClientId, tagged fields (known and unknown), nulls,
// and hostile lengths.
#include <gtest/gtest.h>

#include "protocol_samples.h"
#include "strata/protocol/api.h"
#include "strata/protocol/messages/api_versions_request.h"
#include "strata/protocol/messages/api_versions_response.h"
#include "strata/protocol/messages/fetch_request.h"
#include "strata/protocol/messages/metadata_request.h"
#include "strata/protocol/messages/produce_request.h"
#include "strata/protocol/messages/request_header.h"

namespace strata::protocol {
namespace {

using bytes = std::vector<uint8_t>;

template <typename M>
bytes encode(const M& m, int16_t version) {
    encoded_output out;
    writer w(out);
    m.encode(w, version);
    EXPECT_EQ(out.bytes.size(), m.size(version));
    return out.bytes;
}

template <typename M>
M decode(const bytes& b, int16_t version) {
    reader r(b);
    M m;
    m.decode(r, version);
    EXPECT_TRUE(r.empty());
    return m;
}

TEST(codec, covers_every_message_at_every_version) {
    auto cases = testing::all_message_cases();
    // 3 seeds x every version of every request, response, header, metadata
    // record and internal-topic record the schemas define.
    EXPECT_GT(cases.size(), 2000u);
    size_t fetch_versions = 0;
    for (auto& c : cases)
        if (c.name == "messages/FetchRequest" && c.seed == 0) ++fetch_versions;
    EXPECT_EQ(fetch_versions, 18u);
}

TEST(codec, request_header_v2_keeps_client_id_non_compact) {
    messages::request_header h;
    h.request_api_key = 18;
    h.request_api_version = 3;
    h.correlation_id = 7;
    h.client_id = "abc";
    bytes expected = {0, 18, 0, 3, 0, 0, 0, 7, 0, 3, 'a', 'b', 'c', 0 /* no tagged fields */};
    EXPECT_EQ(encode(h, 2), expected);
    EXPECT_EQ(decode<messages::request_header>(expected, 2), h);
}

TEST(codec, request_header_null_client_id) {
    bytes b = {0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff};
    auto h = decode<messages::request_header>(b, 1);
    EXPECT_FALSE(h.client_id.has_value());
    EXPECT_EQ(encode(h, 1), b);
}

TEST(codec, header_versions_follow_kafka_special_cases) {
    EXPECT_EQ(response_header_version(api_key::api_versions, 3), 0);
    EXPECT_EQ(request_header_version(api_key::api_versions, 3), 2);
    EXPECT_EQ(request_header_version(api_key::api_versions, 2), 1);
    EXPECT_EQ(request_header_version(api_key::controlled_shutdown, 0), 0);
    EXPECT_EQ(request_header_version(api_key::fetch, 12), 2);
    EXPECT_EQ(response_header_version(api_key::fetch, 12), 1);
    EXPECT_EQ(response_header_version(api_key::fetch, 11), 0);
    EXPECT_EQ(find_api_schema(1)->max_version, 17);
    EXPECT_EQ(find_api_schema(1)->name, "Fetch");
    EXPECT_EQ(find_api_schema(9999), nullptr);
}

TEST(codec, api_versions_request_v3_compact_strings) {
    messages::api_versions_request r;
    r.client_software_name = "kcat";
    r.client_software_version = "1.7";
    bytes expected = {5, 'k', 'c', 'a', 't', 4, '1', '.', '7', 0};
    EXPECT_EQ(encode(r, 3), expected);
    // v0-v2 have no fields at all.
    EXPECT_TRUE(encode(r, 2).empty());
}

TEST(codec, known_tagged_field_written_only_when_not_default) {
    messages::api_versions_response r;
    r.error_code = 0;
    EXPECT_EQ(encode(r, 3), (bytes{0, 0, 1 /* empty compact array */, 0, 0, 0, 0, 0 /* no tags */}));
    r.finalized_features_epoch = 5;
    auto b = encode(r, 3);
    // tag count 1, tag 1, size 8, int64 5
    bytes tail = {1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5};
    ASSERT_GE(b.size(), tail.size());
    EXPECT_TRUE(std::equal(tail.begin(), tail.end(), b.end() - static_cast<long>(tail.size())));
    EXPECT_EQ(decode<messages::api_versions_response>(b, 3), r);
}

TEST(codec, unknown_tagged_fields_survive_a_round_trip) {
    // ApiVersionsRequest v3 with tags 5 and 9 that this build does not know.
    bytes b = {1, 1, 2, 5, 1, 0xaa, 9, 2, 0xbb, 0xcc};
    auto r = decode<messages::api_versions_request>(b, 3);
    ASSERT_EQ(r.unknown_tags.size(), 2u);
    EXPECT_EQ(r.unknown_tags[0].tag, 5u);
    EXPECT_EQ(r.unknown_tags[1].data, (bytes{0xbb, 0xcc}));
    EXPECT_EQ(encode(r, 3), b);
}

TEST(codec, unknown_tags_are_merged_in_tag_order_with_known_ones) {
    messages::api_versions_response r;
    r.finalized_features_epoch = 1;  // tag 1
    r.unknown_tags.push_back({0x10, {7}});
    auto b = encode(r, 3);
    auto back = decode<messages::api_versions_response>(b, 3);
    EXPECT_EQ(back, r);
}

TEST(codec, tagged_fields_out_of_order_are_rejected) {
    bytes b = {1, 1, 2, 9, 1, 0xaa, 5, 1, 0xbb};
    reader rd(b);
    messages::api_versions_request r;
    EXPECT_THROW(r.decode(rd, 3), decode_error);
}

TEST(codec, hostile_array_count_is_rejected_before_allocating) {
    // MetadataRequest v1: topics array claiming 2^31-1 entries in 4 bytes.
    bytes b = {0x7f, 0xff, 0xff, 0xff};
    reader rd(b);
    messages::metadata_request m;
    EXPECT_THROW(m.decode(rd, 1), decode_error);
}

TEST(codec, hostile_string_length_is_rejected) {
    bytes b = {0, 1, 0, 0, 0, 1, 0x7f, 0xff, 'x'};  // client id of 32767 bytes in 1
    reader rd(b);
    messages::request_header h;
    EXPECT_THROW(h.decode(rd, 1), decode_error);
}

TEST(codec, null_where_the_version_has_no_null_is_rejected) {
    // MetadataRequest v0: topics may not be null.
    bytes b = {0xff, 0xff, 0xff, 0xff};
    reader rd(b);
    messages::metadata_request m;
    EXPECT_THROW(m.decode(rd, 0), decode_error);
    // ... and is fine at v1+ (null means all topics).
    reader rd1(b);
    m.decode(rd1, 1);
    EXPECT_FALSE(m.topics.has_value());
    messages::metadata_request null_topics;
    null_topics.topics.reset();
    encoded_output out;
    writer w(out);
    EXPECT_THROW(null_topics.encode(w, 0), encode_error);
}

TEST(codec, produce_records_are_a_view_into_the_frame) {
    messages::produce_request p;
    p.acks = -1;
    p.timeout_ms = 1000;
    auto& topic = p.topic_data.emplace_back();
    topic.name = "t";
    auto& part = topic.partition_data.emplace_back();
    part.index = 0;
    bytes payload(1 << 20, 0x5a);
    part.records = records::from_memory(payload);
    auto frame = std::make_shared<bytes>(encode(p, 9));
    reader rd(*frame, frame);
    messages::produce_request back;
    back.decode(rd, 9);
    const auto& recs = *back.topic_data[0].partition_data[0].records;
    ASSERT_EQ(recs.size(), payload.size());
    // The decoded view points into the frame: nothing was copied.
    EXPECT_GE(recs.bytes().data(), frame->data());
    EXPECT_LE(recs.bytes().data() + recs.size(), frame->data() + frame->size());
}

TEST(codec, fetch_request_v15_replica_state_is_tagged) {
    messages::fetch_request f;
    f.replica_state.replica_id = 3;
    f.replica_state.replica_epoch = 9;
    auto b = encode(f, 15);
    auto back = decode<messages::fetch_request>(b, 15);
    EXPECT_EQ(back.replica_state.replica_id, 3);
    // At v14 the replica id is a plain field and ReplicaState does not exist.
    f.replica_id = 0;
    EXPECT_EQ(decode<messages::fetch_request>(encode(f, 14), 14).replica_state.replica_id, -1);
}

TEST(codec, file_records_become_file_inserts) {
    messages::produce_request p;
    auto& part = p.topic_data.emplace_back().partition_data.emplace_back();
    part.records = records::from_file(file_region{42, 100, 5000, nullptr});
    encoded_output out;
    writer w(out);
    p.encode(w, 9);
    ASSERT_EQ(out.file_inserts.size(), 1u);
    EXPECT_EQ(out.file_inserts[0].region.length, 5000u);
    EXPECT_EQ(out.total_size(), p.size(9));
    EXPECT_EQ(out.bytes.size() + 5000, p.size(9));
}

}  // namespace
}  // namespace strata::protocol
