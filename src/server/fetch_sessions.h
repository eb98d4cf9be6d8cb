// KIP-227 incremental fetch sessions. A consumer (or follower) that fetches
// many partitions sends them all once; the broker remembers them in a
// session, later requests name only what changed, and responses carry only
// partitions with news (records, an error, or a moved high watermark, last
// stable offset or log start offset).
//
// The cache is shared by every network thread (one mutex; a session is used
// by one client at a time, one request after another). Sessions live until
// the client closes them (epoch -1), a full fetch replaces them, or they are
// evicted: when the cache is full, the least recently used session idle
// longer than min.incremental.fetch.session.eviction.ms makes room.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/fetch_request.h"
#include "strata/protocol/messages/fetch_response.h"

namespace strata::server {

struct fetch_session_options {
    size_t max_sessions = 1000;                                   // max.incremental.fetch.session.cache.slots
    std::chrono::milliseconds eviction_idle{std::chrono::minutes(2)};  // min.incremental.fetch.session.eviction.ms
};

// What one request is to be answered with, decided when it arrives.
struct fetch_plan {
    kafka_error error = kafka_error::none;  // FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH
    // The partitions to read: the request's own (full fetch) or the
    // session's (incremental), in the request's shape.
    std::vector<protocol::messages::fetch_request::fetch_topic> topics;
    int32_t session_id = 0;  // what the response carries
    bool incremental = false;
};

class fetch_session_cache {
public:
    explicit fetch_session_cache(fetch_session_options options = {});

    // Applies the request's session fields (create, update, close) and says
    // what to read. `by_id`: v13+, where topics are named by id.
    fetch_plan plan(const protocol::messages::fetch_request& request, bool by_id);

    // Before the response goes out: for an incremental plan drops the
    // partitions with nothing new; records what each kept partition reported
    // so the next incremental response can tell.
    void finish(const fetch_plan& plan, protocol::messages::fetch_response& response, bool by_id);

    size_t size() const;

private:
    struct partition_state {
        protocol::messages::fetch_request::fetch_partition request;
        // What the last response that included it told the client.
        int64_t high_watermark = -2;
        int64_t last_stable_offset = -2;
        int64_t log_start_offset = -2;
    };
    struct session {
        int32_t id = 0;
        int32_t next_epoch = 1;
        std::chrono::steady_clock::time_point last_used;
        // (topic key, partition) in the order they were added.
        std::vector<std::pair<std::string, int32_t>> order;
        std::map<std::pair<std::string, int32_t>, partition_state> partitions;
        std::map<std::string, std::pair<std::string, protocol::uuid>> topics;  // key -> (name, id)
    };

    static std::string topic_key(const std::string& name, const protocol::uuid& id, bool by_id);
    int32_t new_session_id();
    bool make_room(std::chrono::steady_clock::time_point now);
    static void add_partitions(session& s, const protocol::messages::fetch_request& request, bool by_id);
    static std::vector<protocol::messages::fetch_request::fetch_topic> topics_of(const session& s);

    const fetch_session_options _options;
    mutable std::mutex _mutex;
    std::unordered_map<int32_t, session> _sessions;
    std::mt19937 _random{std::random_device{}()};
};

}  // namespace strata::server
