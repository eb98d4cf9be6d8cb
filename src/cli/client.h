// A synchronous Kafka client for the CLI, over net::client_connection: one
// io_context run by this thread only while a call waits. It negotiates
// versions with ApiVersions per broker (the highest version both sides
// support, capped where the CLI implements a request's semantics), finds
// partition leaders with Metadata and group coordinators with
// FindCoordinator, and turns transport failures into cli_errors with hints.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common.h"
#include "strata/net/client_connection.h"
#include "strata/protocol/api.h"
#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/metadata_response.h"
#include "strata/protocol/response_errors.h"

namespace strata::cli {

struct broker_address {
    std::string host;
    uint16_t port = 0;
    std::string to_string() const;
};

// "host:port,host2:port2" (port defaults to 9092). Throws a usage error.
std::vector<broker_address> parse_broker_list(const std::string& list);

class kafka_client {
public:
    // The node id that means "any bootstrap server".
    static constexpr int32_t bootstrap_node = -1;

    explicit kafka_client(const global_options& options);
    ~kafka_client();

    const global_options& options() const { return _options; }
    boost::asio::io_context& io() { return _io; }

    // The version to use for `key` with `node`: min(our cap, the broker's max).
    // Throws a cli_error naming the API when the broker does not serve it.
    int16_t version_for(int32_t node, protocol::api_key key, int16_t our_max);
    bool supports(int32_t node, protocol::api_key key);
    // The connection to a node (connected and version-negotiated).
    std::shared_ptr<net::client_connection> connection(int32_t node);
    // Which broker address bootstrap_node resolved to.
    std::string node_name(int32_t node);

    // Sends `request` to `node` at the negotiated version (at most `cap`).
    template <typename Response, typename Request>
    Response call(int32_t node, const Request& request, int16_t cap = Request::highest_supported_version) {
        return call_with_timeout<Response>(node, request, std::chrono::milliseconds(_options.timeout_ms), cap);
    }
    // The same with a timeout of its own (JoinGroup waits out a rebalance).
    template <typename Response, typename Request>
    Response call_with_timeout(int32_t node, const Request& request, std::chrono::milliseconds timeout,
                               int16_t cap = Request::highest_supported_version) {
        const auto key = static_cast<protocol::api_key>(Request::api_key);
        const int16_t version = version_for(node, key, cap);
        protocol::encoded_output body;
        protocol::writer w(body);
        request.encode(w, version);
        auto frame = raw_call(node, key, version, std::move(body), timeout);
        Response response;
        decode_body(frame, [&](protocol::reader& r) { response.decode(r, version); });
        return response;
    }
    // For the admin requests the controller decides (CreateTopics,
    // AlterConfigs, CreateAcls, ...): sends `request` and asks again while
    // the answer's errors all say the controller or coordinator is moving
    // (NOT_CONTROLLER while a new quorum elects or the controller moves) and
    // --timeout has not run out, as Kafka's admin client retries within its
    // timeout; then returns the last answer for the caller to report.
    template <typename Response, typename Request>
    Response call_retrying(int32_t node, const Request& request, int16_t cap = Request::highest_supported_version) {
        using clock = std::chrono::steady_clock;
        const auto deadline = clock::now() + std::chrono::milliseconds(_options.timeout_ms);
        const auto pause = std::chrono::milliseconds(100);
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
            Response response =
                call_with_timeout<Response>(node, request, std::max(left, std::chrono::milliseconds(1)), cap);
            if (!only_retriable_errors(response) || clock::now() + pause >= deadline) return response;
            std::this_thread::sleep_for(pause);
        }
    }
    // True when `response` carries an error and every error it carries says
    // the controller or coordinator is moving (NOT_CONTROLLER, ...): resending
    // then cannot repeat an effect. Other retriable errors are the answer,
    // as Kafka's admin client reports them: a request that succeeded for some
    // items and not for others (ElectLeaders naming an unknown partition)
    // must not be sent again, or its successes come back as
    // ELECTION_NOT_NEEDED and the like.
    template <typename Response>
    static bool only_retriable_errors(Response& response) {
        bool retriable = false, final = false;
        protocol::for_each_error_code(response, [&](int16_t& code) {
            if (code == 0) return;
            const auto known = kafka_error_from_code(code);
            const bool moving = known && (*known == kafka_error::not_controller ||
                                          *known == kafka_error::coordinator_not_available ||
                                          *known == kafka_error::coordinator_load_in_progress ||
                                          *known == kafka_error::not_coordinator);
            (moving ? retriable : final) = true;
        });
        return retriable && !final;
    }
    // Sends a request that gets no answer (Produce with acks=0): returns once
    // it is queued for writing. A later call on the same node is written after it.
    template <typename Request>
    void send_oneway(int32_t node, const Request& request, int16_t cap = Request::highest_supported_version) {
        const auto key = static_cast<protocol::api_key>(Request::api_key);
        const int16_t version = version_for(node, key, cap);
        protocol::encoded_output body;
        protocol::writer w(body);
        request.encode(w, version);
        raw_send(node, key, version, std::move(body));
    }
    // The version `call` would use (for requests whose shape depends on it).
    template <typename Request>
    int16_t version_of(int32_t node, int16_t cap = Request::highest_supported_version) {
        return version_for(node, static_cast<protocol::api_key>(Request::api_key), cap);
    }

    // Metadata for `topics` (nullopt: every topic). Refreshes the broker map.
    protocol::messages::metadata_response metadata(const std::optional<std::vector<std::string>>& topics,
                                                   bool allow_auto_create = false);
    // Metadata for one topic, which must exist (UNKNOWN_TOPIC_OR_PARTITION otherwise).
    protocol::messages::metadata_response::metadata_response_topic topic_metadata(const std::string& topic);
    // The coordinator of a consumer group (FindCoordinator), by node id.
    int32_t group_coordinator(const std::string& group);
    // Forgets the cached coordinator (after NOT_COORDINATOR and the like).
    void forget_coordinator(const std::string& group) { _coordinators.erase(group); }
    // Every broker of the last metadata answer.
    std::vector<int32_t> broker_ids() const;

    // Runs the io_context until `done` (used by async callers such as perf).
    template <typename Pred>
    void run_until(Pred done) {
        while (!done()) {
            if (_io.stopped()) _io.restart();
            _io.run_one();
        }
    }

private:
    struct node_state;
    net::response_frame raw_call(int32_t node, protocol::api_key key, int16_t version, protocol::encoded_output body,
                                 std::chrono::milliseconds timeout);
    void raw_send(int32_t node, protocol::api_key key, int16_t version, protocol::encoded_output body);
    void decode_body(const net::response_frame& frame, const std::function<void(protocol::reader&)>& decode);
    node_state& node(int32_t id);
    void negotiate(node_state& state);

    global_options _options;
    std::optional<net::client_options> _security;  // from --command-config, read once
    boost::asio::io_context _io;
    std::vector<broker_address> _bootstrap;
    std::map<int32_t, broker_address> _brokers;
    std::map<int32_t, std::unique_ptr<node_state>> _nodes;
    std::map<std::string, int32_t> _coordinators;
};

// The client-side cap on versions, per API: the highest version whose
// semantics the CLI implements (Fetch and Produce by topic name, before
// topic ids).
int16_t version_cap(protocol::api_key key);

}  // namespace strata::cli
