// The configuration table. To add a key: add a member to broker_config, a
// row here, and regenerate docs/configuration.md (see config_docs_test.cc).
// Defaults are Kafka's unless the row says why not. A key that is accepted
// but not acted on yet says "Not yet in effect." in its doc; Kafka's keys
// that Strata accepts and will not act on are rows made by inert().
#include "strata/server/config_schema.h"

#include <algorithm>
#include <initializer_list>

#include <fmt/format.h>

#include "config_values.h"
#include "strata/http/server.h"
#include "strata/security/principal_mapping.h"
#include "strata/server/broker_config.h"
#include "topic_configs.h"

namespace strata::server {

namespace {

using detail::parse_value;
using detail::type_name;

// What a key's value must satisfy beyond parsing: a description for people
// and a check returning the problem ("" when fine).
template <typename T>
struct rule {
    std::string description;
    std::function<std::string(const T&)> check;
};

template <typename T>
rule<T> any() {
    return {"", nullptr};
}

template <typename T>
rule<T> at_least(int64_t minimum) {
    return {fmt::format("at least {}", minimum), [minimum](const T& value) -> std::string {
                if constexpr (requires { value.has_value(); }) {
                    if (!value || *value >= minimum) return {};
                    return fmt::format("must be at least {}, got {}", minimum, *value);
                } else {
                    if (value >= minimum) return {};
                    return fmt::format("must be at least {}, got {}", minimum, value);
                }
            }};
}

template <typename T>
rule<T> at_least_or_minus_one(int64_t minimum) {
    return {fmt::format("-1, or at least {}", minimum), [minimum](const T& value) -> std::string {
                if (value == -1 || value >= minimum) return {};
                return fmt::format("must be -1 or at least {}, got {}", minimum, value);
            }};
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
    std::string result;
    for (const auto& item : items) {
        if (!result.empty()) result += separator;
        result += item;
    }
    return result;
}

// For a string: one of the choices. For a list: every item one of them, no
// item twice, and (if `required`) at least one item.
template <typename T>
rule<T> one_of(std::vector<std::string> choices, bool required = false) {
    std::vector<std::string> shown;  // an empty choice shown as "" (authorizer.class.name's default)
    for (const auto& c : choices) shown.push_back(c.empty() ? "\"\"" : c);
    auto described = join(shown, ", ");
    return {fmt::format("{}{}", std::is_same_v<T, std::string> ? "one of " : "any of ", described),
            [choices = std::move(choices), described, required](const T& value) -> std::string {
                const auto allowed = [&](const std::string& v) {
                    return std::find(choices.begin(), choices.end(), v) != choices.end();
                };
                if constexpr (std::is_same_v<T, std::string>) {
                    if (allowed(value)) return {};
                    return fmt::format("must be one of {}, got '{}'", described, value);
                } else {
                    if (required && value.empty()) return fmt::format("must name at least one of {}", described);
                    for (size_t i = 0; i < value.size(); ++i) {
                        if (!allowed(value[i])) return fmt::format("'{}' is not one of {}", value[i], described);
                        if (std::find(value.begin(), value.begin() + static_cast<std::ptrdiff_t>(i), value[i]) !=
                            value.begin() + static_cast<std::ptrdiff_t>(i)) {
                            return fmt::format("'{}' is given twice", value[i]);
                        }
                    }
                    return {};
                }
            }};
}

template <typename T>
rule<T> not_empty() {
    return {"not empty", [](const T& value) -> std::string {
                if (value.empty()) return "must not be empty";
                return {};
            }};
}

// A field's value as text, for the types topic configs fall back to.
std::string to_text(int32_t value) { return std::to_string(value); }
std::string to_text(int64_t value) { return std::to_string(value); }
std::string to_text(bool value) { return value ? "true" : "false"; }
std::string to_text(const std::string& value) { return value; }
std::string to_text(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
    return out;
}
template <typename T>
std::optional<std::string> to_text(const std::optional<T>& value) {
    if (!value) return std::nullopt;
    return to_text(*value);
}

template <typename T>
config_key key(std::string_view section, std::string_view name, T broker_config::*member,
               std::string default_value, rule<T> validate, std::string_view doc) {
    return config_key{
        name,
        section,
        std::string(type_name<T>::value),
        std::move(default_value),
        validate.description,
        doc,
        [member, check = std::move(validate.check)](std::string_view text, broker_config& config) -> std::string {
            T value{};
            if (auto problem = parse_value(text, value); !problem.empty()) return problem;
            if (check) {
                if (auto problem = check(value); !problem.empty()) return problem;
            }
            config.*member = std::move(value);
            return {};
        },
        [member]() -> std::function<std::optional<std::string>(const broker_config&)> {
            if constexpr (requires(const T& value) { to_text(value); })
                return [member](const broker_config& config) -> std::optional<std::string> {
                    return to_text(config.*member);
                };
            return {};
        }()};
}

// A Kafka broker key Strata accepts but does not act on: its value is parsed
// and checked as Kafka's (so a typo or a bad value is still refused), kept
// in the node's explicit values and the metadata log's dynamic configs for
// DescribeConfigs, and changes nothing. Kafka clients and tools set such keys
// (librdkafka's admin tests set sasl.kerberos.min.time.before.relogin on a
// broker); Kafka knows every one of its keys, so refusing them as unknown
// would fail requests that Kafka answers.
template <typename T>
config_key inert(std::string_view section, std::string_view name, std::string default_value, rule<T> validate,
                 update_mode mode, std::string_view doc) {
    return config_key{
        name,
        section,
        std::string(type_name<T>::value),
        std::move(default_value),
        validate.description,
        doc,
        [check = std::move(validate.check)](std::string_view text, broker_config&) -> std::string {
            T value{};
            if (auto problem = parse_value(text, value); !problem.empty()) return problem;
            if (check) return check(value);
            return {};
        },
        {},
        mode};
}

template <typename T>
rule<T> between(double low, double high) {
    return {fmt::format("{} to {}", low, high), [low, high](const T& value) -> std::string {
                if (value >= low && value <= high) return {};
                return fmt::format("must be between {} and {}, got {}", low, high, value);
            }};
}

constexpr std::string_view node = "Node";
constexpr std::string_view listeners = "Listeners and the controller quorum";
constexpr std::string_view network = "Network";
constexpr std::string_view storage = "Storage";
constexpr std::string_view topics = "Topics and replication";
constexpr std::string_view operations = "Operations";
constexpr std::string_view http_section = "HTTP (metrics and health)";
constexpr std::string_view security = "Security";
constexpr std::string_view inert_section = "Kafka keys accepted, not in effect";

using c = broker_config;

void add_node_keys(std::vector<config_key>& k) {
    k.push_back(key(node, "node.id", &c::node_id, "1", at_least<int32_t>(0),
        "This node's id, unique in the cluster. A controller's id must be one of those in "
        "`controller.quorum.voters` when that is set. Kafka has no default; 1 lets a single node start "
        "without configuration."));
    k.push_back(key(node, "process.roles", &c::process_roles, "broker,controller",
        one_of<std::vector<std::string>>({"broker", "controller"}, true),
        "What this node does: `broker` (serves clients, stores partitions), `controller` (a voter of the "
        "metadata quorum), or both (combined mode, the single-node default). A broker without the "
        "`controller` role follows the metadata log as an observer of the quorum that "
        "`controller.quorum.voters` names."));
    k.push_back(key(node, "broker.rack", &c::broker_rack, "", any<std::string>(),
        "The rack or availability zone of this broker: given to clients (Metadata), used by the controller to "
        "spread a partition's replicas over racks, and by `replica.selector.class` to send consumers to a "
        "replica in their `client.rack` (KIP-392)."));
    k.push_back(key(node, "replica.selector.class", &c::replica_selector_class, "",
        one_of<std::string>({"", "org.apache.kafka.common.replica.RackAwareReplicaSelector",
                             "org.apache.kafka.common.replica.LeaderSelector"}),
        "KIP-392 fetch from the closest replica. `org.apache.kafka.common.replica.RackAwareReplicaSelector`: a "
        "partition's leader answers a consumer whose `client.rack` is another in-sync replica's `broker.rack` "
        "with that replica (Fetch's preferred_read_replica), and the consumer reads from it, up to that "
        "follower's high watermark. Empty (Kafka's default) or `LeaderSelector`: consumers read from the "
        "leader. Any broker serves a consumer's Fetch v11+ of a partition it hosts, whatever this says."));
}

void add_listener_keys(std::vector<config_key>& k) {
    k.push_back(key(listeners, "listeners", &c::listeners, "PLAINTEXT://localhost:9092",
        not_empty<std::vector<listener>>(),
        "Where to accept connections: comma-separated `NAME://host:port`. An empty host means every "
        "interface; a host name is bound on every address it resolves to (`localhost`: 127.0.0.1 and ::1); "
        "port 0 picks a free port. Names and ports must be unique. Kafka's default binds every interface "
        "(`PLAINTEXT://:9092`); Strata's binds only the local machine until told otherwise."));
    k.push_back(key(listeners, "advertised.listeners", &c::advertised_listeners, "", any<std::vector<listener>>(),
        "The addresses given to clients and other nodes, as `NAME://host:port`, when they differ from "
        "`listeners` (NAT, containers). Empty: the listeners that are not controller listeners. Each name "
        "must be a listener's, and each host routable (not empty, `0.0.0.0` or `::`)."));
    k.push_back(key(listeners, "listener.security.protocol.map", &c::listener_security_protocol_map,
        "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
        any<std::map<std::string, std::string>>(),
        "The security protocol of each listener name, as `NAME:PROTOCOL` pairs (PLAINTEXT, SSL, "
        "SASL_PLAINTEXT, SASL_SSL; see docs/security.md). Controller listeners missing from the map are "
        "PLAINTEXT. The controller and inter-broker listeners may use any of them: on SSL the nodes connect "
        "to each other with the broker's own certificate (mutual TLS with `ssl.client.auth: required`), on "
        "SASL_PLAINTEXT and SASL_SSL they authenticate with `sasl.mechanism.inter.broker.protocol` / "
        "`sasl.mechanism.controller.protocol`."));
    k.push_back(key(listeners, "controller.listener.names", &c::controller_listener_names, "CONTROLLER",
        any<std::vector<std::string>>(),
        "The names of the listeners that serve the controller quorum (Vote, BeginQuorumEpoch, Fetch of "
        "the metadata log). They are not advertised to clients. In a quorum of several voters, a controller "
        "must have one of them among its `listeners`."));
    k.push_back(key(listeners, "inter.broker.listener.name", &c::inter_broker_listener_name, "PLAINTEXT",
        not_empty<std::string>(),
        "The listener brokers use to reach each other (replication). A broker must have it among its "
        "`listeners`."));
    k.push_back(key(listeners, "controller.quorum.voters", &c::controller_quorum_voters, "",
        any<std::vector<quorum_voter>>(),
        "The voters of the metadata quorum, as comma-separated `id@host:port` (the voter's controller "
        "listener). Empty: a quorum of this node alone, which must then have the `controller` role."));
    // Strata's defaults are a quarter of Kafka's (1000, 1000, 2000, 2000 ms)
    // for the 1 s controller failover target; see docs/benchmarks.md.
    k.push_back(key(listeners, "controller.quorum.election.timeout.ms", &c::controller_quorum_election_timeout_ms,
        "250", at_least<int32_t>(1),
        "How long a voter that knows no leader waits before it asks for votes (plus a random part up to "
        "`controller.quorum.election.backoff.max.ms`). Kafka's default is 1000; Strata's is shorter for "
        "failover within a second."));
    k.push_back(key(listeners, "controller.quorum.election.backoff.max.ms",
        &c::controller_quorum_election_backoff_max_ms, "250", at_least<int32_t>(0),
        "The largest random delay added to the election timeout, after a lost or split election too, so that "
        "voters do not keep campaigning at the same moment. Kafka's default is 1000 (there an exponential "
        "backoff bound; in Strata the range of one uniform random delay)."));
    k.push_back(key(listeners, "controller.quorum.fetch.timeout.ms", &c::controller_quorum_fetch_timeout_ms, "500",
        at_least<int32_t>(1),
        "A follower that has had no answer to its Fetch from the leader for this long starts an election "
        "(pre-vote first); a leader that has not been fetched from by a majority for 1.5 times this steps "
        "down. This bounds how fast a dead controller is replaced. Kafka's default is 2000."));
    k.push_back(key(listeners, "controller.quorum.request.timeout.ms", &c::controller_quorum_request_timeout_ms,
        "250", at_least<int32_t>(1),
        "How long a voter waits for the answer to a quorum request (Vote, BeginQuorumEpoch, Fetch beyond its "
        "long-poll wait) before sending it again. Kafka's default is 2000."));
    k.push_back(key(listeners, "broker.heartbeat.interval.ms", &c::broker_heartbeat_interval_ms, "2000",
        at_least<int32_t>(1),
        "How often an unfenced broker sends BrokerHeartbeat to the active controller (a fenced one, still "
        "catching up with the metadata log, sends them more often)."));
    k.push_back(key(listeners, "broker.session.timeout.ms", &c::broker_session_timeout_ms, "9000",
        at_least<int32_t>(1),
        "The active controller fences a broker it has had no heartbeat from for this long: the broker "
        "leaves Metadata and the ISRs, and its partitions move to another in-sync replica or go "
        "leaderless. Read by the controllers. This bounds a hung or partitioned broker; a crashed one is "
        "fenced sooner: when the connection it heartbeats on closes, the controller probes its listener "
        "and fences it once that refuses connections, or after 250 ms without a new heartbeat."));
}

void add_network_keys(std::vector<config_key>& k) {
    k.push_back(key(network, "num.network.threads", &c::num_network_threads, "0", at_least<int32_t>(0),
        "Network threads. Each runs one event loop, and a connection stays on the thread that accepted it "
        "for its whole life. 0: one per CPU core (Kafka's default is 3)."));
    k.push_back(key(network, "num.io.threads", &c::num_io_threads, "0", at_least<int32_t>(0),
        "Threads that run the partitions' strands: appends, the bookkeeping of reads, and the leader's and "
        "follower's replication state (Kafka's request handler threads; requests themselves are decoded and "
        "answered on the network threads, and fsyncs run on storage's flusher threads). 0: one per CPU core "
        "(Kafka's default is 8)."));
    k.push_back(key(network, "socket.request.max.bytes", &c::socket_request_max_bytes, "104857600",
        at_least<int32_t>(1),
        "The largest request accepted, in bytes. A request announcing a larger (or negative) size closes "
        "the connection before anything is allocated for it."));
    k.push_back(key(network, "socket.send.buffer.bytes", &c::socket_send_buffer_bytes, "-1",
        at_least_or_minus_one<int32_t>(1),
        "SO_SNDBUF of client connections; -1 leaves it to the operating system, whose autotuning beats a "
        "fixed size on fast links (Kafka's default is 102400)."));
    k.push_back(key(network, "socket.receive.buffer.bytes", &c::socket_receive_buffer_bytes, "-1",
        at_least_or_minus_one<int32_t>(1),
        "SO_RCVBUF of client connections; -1 leaves it to the operating system (Kafka's default is 102400)."));
    k.push_back(key(network, "socket.listen.backlog.size", &c::socket_listen_backlog_size, "50",
        at_least<int32_t>(1),
        "Connections the kernel queues on a listening socket before they are accepted (also capped by "
        "`net.core.somaxconn`)."));
    k.push_back(key(network, "max.in.flight.requests.per.connection", &c::max_in_flight_requests_per_connection,
        "100", at_least<int32_t>(1),
        "The most requests of one connection being handled or waiting for their response to be written. "
        "At the bound the broker stops reading that connection until a response goes out (backpressure). "
        "Reading also pauses while a connection's requests in flight hold `socket.request.max.bytes` bytes. "
        "Strata's own key: Kafka handles one request per connection at a time."));
    k.push_back(key(network, "queued.max.request.bytes", &c::queued_max_request_bytes, "536870912",
        at_least_or_minus_one<int64_t>(1),
        "The most bytes of requests held in memory across every connection, from the moment a frame's size "
        "is read until the request is done with its bytes. While spent, connections wait before reading the "
        "next request's body (their clients are paused by TCP, not disconnected). -1: unbounded, Kafka's "
        "default; Strata bounds it by default so that memory does not grow with the number of clients. Must "
        "be at least `socket.request.max.bytes`."));
    k.push_back(key(network, "max.connections", &c::max_connections, "2147483647", at_least<int32_t>(1),
        "The most client connections open at once, across the listeners other than the controller listeners. "
        "At the bound the broker stops accepting: new connections wait in the listen backlog until one "
        "closes, as Kafka's do. Unlike Kafka, a connection to an inter-broker listener shared with clients "
        "is not let in by closing another; give the cluster's traffic its own listener when you set this."));
    k.push_back(key(network, "max.connections.per.ip", &c::max_connections_per_ip, "2147483647",
        at_least<int32_t>(0),
        "The most connections from one IP address, on every listener. A connection beyond it is closed as "
        "soon as it is accepted (and logged). 0 (only with `max.connections.per.ip.overrides`) lets in only "
        "the addresses the overrides name."));
    k.push_back(key(network, "max.connections.per.ip.overrides", &c::max_connections_per_ip_overrides, "",
        rule<std::string>{"host:count items separated by commas",
                          [](const std::string& value) {
                              std::string problem;
                              parse_connection_overrides(value, problem);
                              return problem;
                          }},
        "Per-address exceptions to `max.connections.per.ip`, e.g. `127.0.0.1:200,[::1]:200,loader.example:50`. "
        "A host name is resolved when the broker starts, and each of its addresses gets the limit."));
    k.push_back(key(network, "max.connection.creation.rate", &c::max_connection_creation_rate, "2147483647",
        at_least<int32_t>(0),
        "The most new connections per second the broker accepts across its listeners other than the "
        "controller listeners (KIP-612), measured as client quotas are (`quota.window.num` windows of "
        "`quota.window.size.seconds`). Over it the listener pauses before taking the next connection, at "
        "most one window; the clients wait in the listen backlog. "
        "`listener.name.<listener>.max.connection.creation.rate` sets a rate for one listener (that one "
        "applies to a controller listener too). The `connection_creation_rate` quota of an IP entity "
        "(`strata quota set --ip`) limits one address: its connections over the rate are closed."));
}

void add_storage_keys(std::vector<config_key>& k) {
    k.push_back(key(storage, "log.dirs", &c::log_dirs, "./data", not_empty<std::vector<std::string>>(),
        "Comma-separated directories where partition data is kept; created at start-up if absent. A relative "
        "path is relative to the working directory. (Kafka's default is /tmp/kafka-logs.)"));
    k.push_back(key(storage, "metadata.log.dir", &c::metadata_log_dir, "", any<std::string>(),
        "Where the metadata log (the Raft log) is kept, in its `__cluster_metadata-0` directory. Empty: the "
        "first of `log.dirs`."));
    k.push_back(key(storage, "metadata.log.max.record.bytes.between.snapshots",
        &c::metadata_log_max_record_bytes_between_snapshots, "20971520", at_least<int64_t>(1),
        "Each node writes a snapshot of its metadata image once this many bytes of metadata records have "
        "been applied since its last snapshot; the metadata log is then truncated behind the snapshot."));
    k.push_back(key(storage, "metadata.log.max.snapshot.interval.ms", &c::metadata_log_max_snapshot_interval_ms,
        "3600000", at_least<int64_t>(0),
        "A node also writes a snapshot when records were applied and this long has passed since its last "
        "snapshot; 0 disables the time trigger."));
    k.push_back(key(storage, "log.segment.bytes", &c::log_segment_bytes, "1073741824", at_least<int32_t>(14),
        "The size at which a log segment is closed and a new one rolled."));
    k.push_back(key(storage, "log.roll.ms", &c::log_roll_ms, "", at_least<std::optional<int64_t>>(1),
        "The age at which a segment is rolled even if not full. Not set: `log.roll.hours`."));
    k.push_back(key(storage, "log.roll.hours", &c::log_roll_hours, "168", at_least<int32_t>(1),
        "`log.roll.ms` in hours, used when that is not set."));
    k.push_back(key(storage, "log.retention.ms", &c::log_retention_ms, "", any<std::optional<int64_t>>(),
        "How long data is kept before it may be deleted; -1: no time limit. Not set: "
        "`log.retention.minutes`, then `log.retention.hours`."));
    k.push_back(key(storage, "log.retention.minutes", &c::log_retention_minutes, "",
        any<std::optional<int32_t>>(),
        "Retention in minutes, used when `log.retention.ms` is not set."));
    k.push_back(key(storage, "log.retention.hours", &c::log_retention_hours, "168", any<int32_t>(),
        "Retention in hours, used when neither `log.retention.ms` nor `log.retention.minutes` is set."));
    k.push_back(key(storage, "log.retention.bytes", &c::log_retention_bytes, "-1", any<int64_t>(),
        "The size a partition may reach before its oldest segments may be deleted; -1: no size limit."));
    k.push_back(key(storage, "log.retention.check.interval.ms", &c::log_retention_check_interval_ms, "300000",
        at_least<int64_t>(1), "How often retention is enforced. Not yet in effect."));
    k.push_back(key(storage, "log.cleaner.backoff.ms", &c::log_cleaner_backoff_ms, "15000", at_least<int64_t>(0),
        "The time between two passes of the log cleaner over the compacted logs (`cleanup.policy=compact`); "
        "each pass cleans the logs whose dirty share reached `min.cleanable.dirty.ratio`. Checked once a second."));
    k.push_back(key(storage, "log.index.size.max.bytes", &c::log_index_size_max_bytes, "10485760",
        at_least<int32_t>(4),
        "The largest size of a segment's offset and time indexes; a full index rolls the segment."));
    k.push_back(key(storage, "log.index.interval.bytes", &c::log_index_interval_bytes, "4096",
        at_least<int32_t>(0),
        "Log bytes between two entries of the offset index."));
    k.push_back(key(storage, "log.cleanup.policy", &c::log_cleanup_policy, "delete",
        one_of<std::vector<std::string>>({"delete", "compact"}, true),
        "What happens to old segments: `delete` them past retention, `compact` them to the latest record "
        "of each key, or both."));
    k.push_back(key(storage, "log.message.timestamp.type", &c::log_message_timestamp_type, "CreateTime",
        one_of<std::string>({"CreateTime", "LogAppendTime"}),
        "Whether a record keeps the producer's timestamp or gets the broker's append time."));
    k.push_back(key(storage, "compression.type", &c::compression_type, "producer",
        one_of<std::string>({"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}),
        "The compression of stored batches; `producer` keeps what the producer sent. Not yet in effect."));
    k.push_back(key(storage, "message.max.bytes", &c::message_max_bytes, "1048588", at_least<int32_t>(0),
        "The largest record batch a topic accepts (after compression)."));
}

void add_topic_keys(std::vector<config_key>& k) {
    k.push_back(key(topics, "auto.create.topics.enable", &c::auto_create_topics_enable, "true", any<bool>(),
        "Whether a Metadata or Produce request for an unknown topic creates it."));
    k.push_back(key(topics, "num.partitions", &c::num_partitions, "1", at_least<int32_t>(1),
        "Partitions of a topic created without a partition count."));
    k.push_back(key(topics, "default.replication.factor", &c::default_replication_factor, "1",
        at_least<int32_t>(1),
        "Replicas of each partition of a topic created without a replication factor."));
    k.push_back(key(topics, "min.insync.replicas", &c::min_insync_replicas, "1", at_least<int32_t>(1),
        "With acks=all, the in-sync replicas a write needs to be acknowledged."));
    k.push_back(key(topics, "unclean.leader.election.enable", &c::unclean_leader_election_enable, "false",
        any<bool>(),
        "Whether a replica outside the ISR may become leader when no in-sync replica is left, losing "
        "acknowledged data. Not yet in effect."));
    k.push_back(key(topics, "controlled.shutdown.enable", &c::controlled_shutdown_enable, "true", any<bool>(),
        "On SIGTERM the broker first asks the active controller (BrokerHeartbeat WantShutDown) to move "
        "every partition it leads to another in-sync replica and to take it out of the ISRs that keep "
        "min.insync.replicas without it, and closes once the controller answers ShouldShutDown, so that "
        "clients see only NOT_LEADER_OR_FOLLOWER and follow the new leaders. Skipped when no other "
        "broker is unfenced."));
    k.push_back(key(topics, "controlled.shutdown.timeout.ms", &c::controlled_shutdown_timeout_ms, "30000",
        at_least<int32_t>(0),
        "How long a controlled shutdown waits for the controller's approval before the broker closes "
        "anyway; it also gives up once the controller has not answered for broker.session.timeout.ms. "
        "Strata's own key: Kafka's KRaft broker waits up to 5 minutes."));
    k.push_back(key(topics, "auto.leader.rebalance.enable", &c::auto_leader_rebalance_enable, "true", any<bool>(),
        "Whether the active controller moves leadership back to each partition's preferred replica (the "
        "first of its assignment) once that replica is unfenced and back in the ISR, i.e. caught up. "
        "Checked every leader.imbalance.check.interval.seconds for brokers above "
        "leader.imbalance.per.broker.percentage. Read by the controllers."));
    k.push_back(key(topics, "leader.imbalance.check.interval.seconds", &c::leader_imbalance_check_interval_seconds,
        "300", at_least<int32_t>(1),
        "How often the active controller checks for partitions not led by their preferred replica."));
    k.push_back(key(topics, "leader.imbalance.per.broker.percentage", &c::leader_imbalance_per_broker_percentage,
        "10", at_least<int32_t>(0),
        "The share of a broker's preferred partitions that may be led elsewhere before the controller "
        "gives them back to it (percent)."));
    k.push_back(key(topics, "replica.lag.time.max.ms", &c::replica_lag_time_max_ms, "30000",
        at_least<int64_t>(1),
        "A follower that has not caught up with the leader's log end within this long leaves the ISR (the "
        "leader sends AlterPartition; it checks every half of this). A follower that catches up with the high "
        "watermark joins it again."));
    k.push_back(key(topics, "replica.fetch.max.bytes", &c::replica_fetch_max_bytes, "1048576",
        at_least<int32_t>(0),
        "Bytes a follower asks for per partition in one fetch (the first batch comes whole however large)."));
    k.push_back(key(topics, "replica.fetch.response.max.bytes", &c::replica_fetch_response_max_bytes, "10485760",
        at_least<int32_t>(0), "Bytes a follower asks for in one fetch over all its partitions."));
    k.push_back(key(topics, "replica.fetch.wait.max.ms", &c::replica_fetch_wait_max_ms, "500", at_least<int32_t>(0),
        "How long the leader holds a caught-up follower's fetch waiting for new records (it answers at once when "
        "one is appended or the high watermark moves)."));
    k.push_back(key(topics, "replica.fetch.backoff.ms", &c::replica_fetch_backoff_ms, "1000", at_least<int32_t>(0),
        "How long a follower waits before fetching again a partition whose fetch failed, or from a leader it "
        "cannot reach."));
    k.push_back(key(topics, "num.replica.fetchers", &c::num_replica_fetchers, "1", at_least<int32_t>(1),
        "Fetch loops (each with its own connection) per source broker; a broker's followed partitions are spread "
        "over them by hash."));
    k.push_back(key(topics, "offsets.topic.num.partitions", &c::offsets_topic_num_partitions, "50",
        at_least<int32_t>(1), "Partitions of `__consumer_offsets`, made on the first FindCoordinator; a group belongs to "
        "partition abs(hash(group.id)) % this."));
    k.push_back(key(topics, "offsets.topic.replication.factor", &c::offsets_topic_replication_factor, "3",
        at_least<int32_t>(1),
        "Replicas of `__consumer_offsets` (the single-node configuration sets 1)."));
    k.push_back(key(topics, "transaction.state.log.num.partitions", &c::transaction_state_log_num_partitions,
        "50", at_least<int32_t>(1), "Partitions of `__transaction_state`, made on the first FindCoordinator of "
        "type TRANSACTION; a transactional id belongs to partition abs(hash(transactional.id)) % this."));
    k.push_back(key(topics, "transaction.state.log.replication.factor",
        &c::transaction_state_log_replication_factor, "3", at_least<int32_t>(1),
        "Replicas of `__transaction_state` (the single-node configuration sets 1)."));
    k.push_back(key(topics, "transaction.state.log.min.isr", &c::transaction_state_log_min_isr, "2",
        at_least<int32_t>(1),
        "`min.insync.replicas` of `__transaction_state` (the single-node configuration sets 1)."));
    k.push_back(key(topics, "transaction.state.log.segment.bytes", &c::transaction_state_log_segment_bytes,
        "104857600", at_least<int32_t>(1), "`segment.bytes` of `__transaction_state`."));
    k.push_back(key(topics, "transaction.max.timeout.ms", &c::transaction_max_timeout_ms, "900000",
        at_least<int32_t>(1),
        "The largest `transaction.timeout.ms` a producer may ask for; InitProducerId with a larger one fails with "
        "INVALID_TRANSACTION_TIMEOUT."));
    k.push_back(key(topics, "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        &c::transaction_abort_timed_out_transaction_cleanup_interval_ms, "10000", at_least<int32_t>(1),
        "How often the transaction coordinator looks for open transactions older than their timeout, which it "
        "aborts (fencing their producer)."));
    k.push_back(key(topics, "transactional.id.expiration.ms", &c::transactional_id_expiration_ms, "604800000",
        at_least<int32_t>(1),
        "A transactional id with no transaction open or ending that has not been used for this long is removed "
        "(a tombstone in `__transaction_state`); its next InitProducerId starts it afresh with a new producer id."));
    k.push_back(key(topics, "transaction.remove.expired.transaction.cleanup.interval.ms",
        &c::transaction_remove_expired_transaction_cleanup_interval_ms, "3600000", at_least<int32_t>(1),
        "How often the transaction coordinator looks for transactional ids past `transactional.id.expiration.ms`."));
    k.push_back(key(topics, "producer.id.expiration.ms", &c::producer_id_expiration_ms, "86400000",
        at_least<int64_t>(1),
        "An idempotent producer whose last batch to a partition is this old is forgotten there (checked every "
        "10 minutes and when the partition opens); a retry from it is then accepted as new."));
    k.push_back(key(topics, "group.initial.rebalance.delay.ms", &c::group_initial_rebalance_delay_ms, "3000",
        at_least<int32_t>(0),
        "How long a new consumer group waits for more members before its first rebalance."));
    k.push_back(key(topics, "offsets.topic.segment.bytes", &c::offsets_topic_segment_bytes, "104857600",
        at_least<int32_t>(1), "`segment.bytes` of `__consumer_offsets`."));
    k.push_back(key(topics, "offsets.retention.minutes", &c::offsets_retention_minutes, "10080", at_least<int32_t>(1),
        "How long committed offsets are kept after their group became empty (or, for offsets committed "
        "without group membership, after their commit)."));
    k.push_back(key(topics, "offsets.retention.check.interval.ms", &c::offsets_retention_check_interval_ms,
        "600000", at_least<int64_t>(1), "How often expired offsets are looked for."));
    k.push_back(key(topics, "offset.metadata.max.bytes", &c::offset_metadata_max_bytes, "4096",
        at_least<int32_t>(0), "The largest metadata string an offset commit may carry."));
    k.push_back(key(topics, "group.min.session.timeout.ms", &c::group_min_session_timeout_ms, "6000",
        at_least<int32_t>(1), "The shortest session timeout a consumer group member may ask for."));
    k.push_back(key(topics, "group.max.session.timeout.ms", &c::group_max_session_timeout_ms, "1800000",
        at_least<int32_t>(1), "The longest session timeout a consumer group member may ask for."));
    k.push_back(key(topics, "group.max.size", &c::group_max_size, "2147483647", at_least<int32_t>(1),
        "The most members a consumer group may have."));
    k.push_back(key(topics, "group.consumer.session.timeout.ms", &c::group_consumer_session_timeout_ms, "45000",
        at_least<int32_t>(1), "KIP-848 consumer groups: a member not heard from for this long is removed."));
    k.push_back(key(topics, "group.consumer.heartbeat.interval.ms", &c::group_consumer_heartbeat_interval_ms,
        "5000", at_least<int32_t>(1), "KIP-848 consumer groups: how often members are told to heartbeat."));
}

// Every item an http:// address the HTTP listener can bind.
rule<std::vector<std::string>> http_addresses() {
    return {"`http://host:port` items", [](const std::vector<std::string>& value) -> std::string {
                for (const auto& item : value) {
                    http::listen_address address;
                    if (auto problem = http::parse_listen_address(item, address); !problem.empty()) return problem;
                }
                return {};
            }};
}

void add_http_keys(std::vector<config_key>& k) {
    k.push_back(key(http_section, "http.listeners", &c::http_listeners, "", http_addresses(),
        "Where the HTTP listener accepts connections, comma-separated `http://host:port` or `https://host:port` "
        "(TLS with the broker's `ssl.keystore.*`; an empty host: every interface). It serves `/metrics` (Prometheus text, or OpenMetrics when asked), `/health/live` and "
        "`/health/ready` (docs/metrics.md). Empty: no HTTP listener, the default for production; "
        "config/single-node.yaml turns it on at `http://localhost:8080`. Strata's own key."));
    k.push_back(key(http_section, "http.max.request.bytes", &c::http_max_request_bytes, "1048576",
        at_least<int32_t>(1024),
        "The largest HTTP request (headers and body) accepted; a larger one is answered 413 (431 for the "
        "headers alone, which are also capped at 64 KiB) and its connection closed."));
    k.push_back(key(http_section, "http.max.connections", &c::http_max_connections, "100", at_least<int32_t>(1),
        "The most HTTP connections open at once; one more is answered 503 and closed. HTTP connections do not "
        "count against `max.connections`."));
    k.push_back(key(http_section, "http.authentication.method", &c::http_authentication_method, "NONE",
        one_of<std::string>({"NONE", "BASIC"}),
        "BASIC: every HTTP request (but `/health/live` and `/health/ready`, for probes) needs HTTP Basic "
        "credentials of a SASL user of the broker (a PLAIN user of any listener, or a SCRAM user), else it is "
        "answered 401; the REST proxy then acts as that user (`User:<name>`, so ACLs apply). Use it with an "
        "`https://` listener: Basic sends the password in the clear. As Confluent REST Proxy's "
        "`authentication.method`."));
    k.push_back(key(http_section, "http.authentication.realm", &c::http_authentication_realm, "strata",
        not_empty<std::string>(),
        "The realm named in the 401 answer's `WWW-Authenticate: Basic` challenge."));
}

void add_sasl_keys(std::vector<config_key>& k) {
    k.push_back(key(security, "sasl.enabled.mechanisms", &c::sasl_enabled_mechanisms,
        "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        one_of<std::vector<std::string>>({"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}, true),
        "The SASL mechanisms SASL_PLAINTEXT and SASL_SSL listeners offer (SaslHandshake). Kafka's default "
        "is GSSAPI, which Strata does not implement; its default here is every password mechanism it does. "
        "OAUTHBEARER (KIP-255) must be listed to be offered: without "
        "`listener.name.<listener>.oauthbearer.sasl.server.callback.handler.class` its tokens are checked by "
        "Kafka's unsecured validator (alg=none JWTs, anyone may name any principal: development only); with "
        "`OAuthBearerValidatorCallbackHandler` by signature against `sasl.oauthbearer.jwks.endpoint.url`."));
    k.push_back(key(security, "sasl.plain.users", &c::sasl_plain_users, "", any<std::vector<std::string>>(),
        "Strata's own simpler form of PLAIN users, for every SASL listener: a list of `name:password` "
        "(split at the first colon; as a list is comma-separated, a password with a comma needs Kafka's "
        "form, `listener.name.<listener>.plain.sasl.jaas.config` with `user_<name>=\"password\"` options, "
        "which is also accepted and adds to these for that listener)."));
    // The node's own login on SASL inter-broker and controller listeners.
    // No member of their own: read from explicit_values by
    // cluster_security.cc (as inert() rows keep their values), checked
    // against the listeners there at start-up.
    k.push_back(inert(security, "sasl.mechanism.inter.broker.protocol", "GSSAPI", any<std::string>(),
        update_mode::read_only,
        "The SASL mechanism brokers authenticate to each other's inter-broker listener with "
        "(`inter.broker.listener.name`) when it is SASL_PLAINTEXT or SASL_SSL: PLAIN, SCRAM-SHA-256 or "
        "SCRAM-SHA-512; the broker's own username and password are the `username` and `password` options of "
        "`listener.name.<listener>.<mechanism>.sasl.jaas.config` (docs/security.md). Kafka's default GSSAPI "
        "is not implemented: a SASL inter-broker listener with it is refused at start-up."));
    k.push_back(inert(security, "sasl.mechanism.controller.protocol", "GSSAPI", any<std::string>(),
        update_mode::read_only,
        "The SASL mechanism nodes authenticate to the controllers' listener (`controller.listener.names`) "
        "with when it is SASL_PLAINTEXT or SASL_SSL, credentials as for "
        "`sasl.mechanism.inter.broker.protocol`. PLAIN on controllers: SCRAM credentials live in the "
        "metadata log, which controllers must reach each other to read (as in Kafka's KRaft mode), so only "
        "broker-only nodes may use SCRAM here. Kafka's default GSSAPI is not implemented."));
    k.push_back(key(security, "sasl.server.max.receive.size", &c::sasl_server_max_receive_size, "524288",
        at_least<int32_t>(1),
        "The largest request a connection may send before it has authenticated (SASL listeners): a larger "
        "size prefix closes the connection before anything is allocated for it."));
    k.push_back(key(security, "connection.failed.authentication.delay.ms",
        &c::connection_failed_authentication_delay_ms, "100", at_least<int32_t>(0),
        "How long the answer to a failed authentication is held back before the connection is closed, to "
        "slow down password guessing."));
    k.push_back(key(security, "connections.max.reauth.ms", &c::connections_max_reauth_ms, "0",
        any<int64_t>(),
        "KIP-368: the longest a SASL session lasts before the client must re-authenticate on its connection "
        "(SaslAuthenticate's session_lifetime_ms tells it when; an OAUTHBEARER token's expiry shortens it). "
        "A connection past its session's end that has not re-authenticated is closed at its next request. "
        "0 or less: sessions last as long as the connection (OAUTHBEARER ones until the token expires). "
        "Per listener and mechanism as Kafka: "
        "`listener.name.<listener>.<mechanism>.connections.max.reauth.ms`, or "
        "`listener.name.<listener>.connections.max.reauth.ms` for every mechanism of a listener."));
    k.push_back(key(security, "sasl.oauthbearer.jwks.endpoint.url", &c::sasl_oauthbearer_jwks_endpoint_url, "",
        rule<std::string>{"empty or a file: URL", [](const std::string& v) -> std::string {
                              if (v.empty() || v.rfind("file:", 0) == 0) return {};
                              return "only a file: URL (file:///path/to/jwks.json) is supported";
                          }},
        "KIP-768: the JSON Web Key Set that OAUTHBEARER tokens' signatures are checked against, when a "
        "SASL listener's `listener.name.<listener>.oauthbearer.sasl.server.callback.handler.class` is "
        "`org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler`. Strata reads a "
        "`file:` URL (Kafka also fetches https ones) once, at start-up; RSA keys (RS256, RS384, RS512)."));
    k.push_back(key(security, "sasl.oauthbearer.expected.audience", &c::sasl_oauthbearer_expected_audience, "",
        any<std::vector<std::string>>(),
        "The audiences (`aud`) an OAUTHBEARER token must name one of (JWKS validator). Empty: a token that "
        "names an audience is refused (jose4j's rule, which Kafka inherits)."));
    k.push_back(key(security, "sasl.oauthbearer.expected.issuer", &c::sasl_oauthbearer_expected_issuer, "",
        any<std::string>(), "The issuer (`iss`) an OAUTHBEARER token must name (JWKS validator); empty: any."));
    k.push_back(key(security, "sasl.oauthbearer.sub.claim.name", &c::sasl_oauthbearer_sub_claim_name, "sub",
        not_empty<std::string>(),
        "The claim an OAUTHBEARER token's principal name is read from (JWKS validator): `User:<its value>`."));
    k.push_back(key(security, "sasl.oauthbearer.scope.claim.name", &c::sasl_oauthbearer_scope_claim_name,
        "scope", not_empty<std::string>(), "The claim holding an OAUTHBEARER token's scope (JWKS validator)."));
    k.push_back(key(security, "sasl.oauthbearer.clock.skew.seconds", &c::sasl_oauthbearer_clock_skew_seconds,
        "30", at_least<int32_t>(0),
        "How far the broker's clock and the token issuer's may differ when `exp`, `iat` and `nbf` are checked "
        "(JWKS validator)."));
    k.push_back(key(security, "quota.window.num", &c::quota_window_num, "11", at_least<int32_t>(1),
        "The number of samples client quotas' rates are measured over (Kafka's quota.window.num): a "
        "client's produce, fetch and request rates are averaged over this many windows."));
    k.push_back(key(security, "quota.window.size.seconds", &c::quota_window_size_seconds, "1",
        at_least<int32_t>(1),
        "The length of each sample window of client quotas' rates, in seconds (Kafka's "
        "quota.window.size.seconds)."));
    k.push_back(key(security, "controller.quota.window.num", &c::controller_quota_window_num, "11",
        at_least<int32_t>(1),
        "The number of samples of the controller mutation quota (Kafka's controller.quota.window.num): a "
        "client's `controller_mutation_rate` bucket holds at most rate x samples x window seconds of "
        "partition mutations."));
    k.push_back(key(security, "controller.quota.window.size.seconds", &c::controller_quota_window_size_seconds,
        "1", at_least<int32_t>(1),
        "The length of each sample of the controller mutation quota, in seconds (Kafka's "
        "controller.quota.window.size.seconds)."));
}

// Kafka's StandardAuthorizer (docs/security.md, "ACLs").
void add_authorizer_keys(std::vector<config_key>& k) {
    k.push_back(key(security, "authorizer.class.name", &c::authorizer_class_name, "",
        one_of<std::string>({"", "org.apache.kafka.metadata.authorizer.StandardAuthorizer", "StandardAuthorizer",
                             "standard"}),
        "Turns ACL authorization on: `org.apache.kafka.metadata.authorizer.StandardAuthorizer` (Kafka's name; "
        "`StandardAuthorizer` and `standard` are accepted too). ACLs live in the cluster's metadata "
        "(CreateAcls, `strata acl`). Empty, the default: no authorizer, every principal may do everything."));
    k.push_back(key(security, "super.users", &c::super_users, "", any<std::string>(),
        "Principals the authorizer allows everything, semicolon-separated (`User:admin;User:broker`). The "
        "brokers' own principal on the inter-broker and controller listeners (User:ANONYMOUS on PLAINTEXT "
        "ones, User:<username> of their SASL login on SASL ones) must be here or hold CLUSTER_ACTION on the "
        "cluster."));
    k.push_back(key(security, "allow.everyone.if.no.acl.found", &c::allow_everyone_if_no_acl_found, "false",
        any<bool>(),
        "With an authorizer: whether a resource that no ACL names is open to every principal. False (Kafka's "
        "default): without ACLs only super users may do anything."));
}

// KIP-48's delegation tokens (Kafka's DelegationTokenManagerConfigs).
void add_delegation_token_keys(std::vector<config_key>& k) {
    k.push_back(key(security, "delegation.token.secret.key", &c::delegation_token_secret_key, "",
        any<std::string>(),
        "The secret that delegation tokens' HMACs (HmacSHA512 over the token id) are derived from; the same "
        "on every node of the cluster, since each derives a token's HMAC itself to authenticate it. Empty, the "
        "default: delegation tokens are disabled (CreateDelegationToken and DescribeDelegationToken answer "
        "DELEGATION_TOKEN_AUTH_DISABLED, SCRAM's tokenauth exchanges fail). Never shown by DescribeConfigs."));
    k.push_back(key(security, "delegation.token.max.lifetime.ms", &c::delegation_token_max_lifetime_ms,
        "604800000", at_least<int64_t>(1),
        "The longest a delegation token lives, renewals included (a CreateDelegationToken's max_lifetime_ms "
        "may only shorten it)."));
    k.push_back(key(security, "delegation.token.expiry.time.ms", &c::delegation_token_expiry_time_ms, "86400000",
        at_least<int64_t>(1),
        "How long a delegation token lives from its creation or a renewal unless renewed (a "
        "RenewDelegationToken's renew_period_ms may only shorten it)."));
    k.push_back(key(security, "delegation.token.expiry.check.interval.ms",
        &c::delegation_token_expiry_check_interval_ms, "3600000", at_least<int64_t>(1),
        "How often the active controller removes the delegation tokens past their expiry or maximum lifetime "
        "from the metadata (RemoveDelegationTokenRecord). An expired token authenticates nobody from the "
        "moment it expires, removed or not."));
}

void add_ssl_keys(std::vector<config_key>& k) {
    k.push_back(key(security, "ssl.keystore.type", &c::ssl_keystore_type, "PEM", one_of<std::string>({"PEM"}),
        "The format of the key store. Only PEM (Kafka 2.7+) is supported; Kafka's default is JKS."));
    k.push_back(key(security, "ssl.keystore.location", &c::ssl_keystore_location, "", any<std::string>(),
        "A PEM file holding the broker's private key and its certificate chain (SSL and SASL_SSL "
        "listeners). Alternatively give them inline with `ssl.keystore.key` and "
        "`ssl.keystore.certificate.chain`. When the file changes (a new modification time, size or inode: "
        "rewritten, renamed over, or a symlink swapped) new connections get the new certificate, without a "
        "restart (`ssl.allow.dn.changes`). Every `ssl.*` key can be given for one listener as "
        "`listener.name.<listener>.ssl.*` (docs/security.md)."));
    k.push_back(key(security, "ssl.keystore.certificate.chain", &c::ssl_keystore_certificate_chain, "",
        any<std::string>(), "The broker's certificate chain, inline, in PEM."));
    k.push_back(key(security, "ssl.keystore.key", &c::ssl_keystore_key, "", any<std::string>(),
        "The broker's private key, inline, in PEM (PKCS#8; encrypted if `ssl.key.password` is set)."));
    k.push_back(key(security, "ssl.key.password", &c::ssl_key_password, "", any<std::string>(),
        "The password of an encrypted private key."));
    k.push_back(key(security, "ssl.truststore.type", &c::ssl_truststore_type, "PEM", one_of<std::string>({"PEM"}),
        "The format of the trust store. Only PEM is supported; Kafka's default is JKS."));
    k.push_back(key(security, "ssl.truststore.location", &c::ssl_truststore_location, "", any<std::string>(),
        "A PEM file of the CA certificates client certificates are verified against (`ssl.client.auth`). "
        "Reloaded for new connections when the file changes."));
    k.push_back(key(security, "ssl.truststore.certificates", &c::ssl_truststore_certificates, "",
        any<std::string>(), "The trusted CA certificates, inline, in PEM."));
    k.push_back(key(security, "ssl.client.auth", &c::ssl_client_auth, "none",
        one_of<std::string>({"none", "requested", "required"}),
        "Whether SSL listeners ask clients for a certificate: `required` refuses clients without a valid "
        "one, `requested` verifies one if given. The certificate's subject (RFC 2253, as Kafka's "
        "`User:CN=...,O=...`) is the connection's principal on SSL listeners. SASL_SSL listeners do not ask "
        "(their clients authenticate with SASL, whose identity is the principal), as Kafka applies this key "
        "to SSL listeners only."));
    k.push_back(key(security, "ssl.endpoint.identification.algorithm", &c::ssl_endpoint_identification_algorithm,
        "https", one_of<std::string>({"https", ""}),
        "How the broker's own TLS connections (to the inter-broker and controller listeners of other nodes) "
        "check the peer's certificate: `https` requires it to name the host connected to (a DNS or IP "
        "subject alternative name), as Kafka's default; empty checks only that a trusted CA signed it."));
    k.push_back(key(security, "ssl.enabled.protocols", &c::ssl_enabled_protocols, "TLSv1.2,TLSv1.3",
        one_of<std::vector<std::string>>({"TLSv1.2", "TLSv1.3"}, true), "The TLS versions accepted."));
    k.push_back(key(security, "ssl.cipher.suites", &c::ssl_cipher_suites, "", any<std::vector<std::string>>(),
        "Cipher suites, by OpenSSL's names (TLS 1.2) or IANA's (TLS 1.3). Empty: OpenSSL's defaults."));
    k.push_back(key(security, "ssl.principal.mapping.rules", &c::ssl_principal_mapping_rules, "DEFAULT",
        rule<std::string>{"DEFAULT, or RULE:pattern/replacement/[L|U] rules, comma-separated",
                          [](const std::string& value) -> std::string {
                              try {
                                  security::ssl_principal_mapper check(value);
                              } catch (const std::invalid_argument& e) {
                                  return e.what();
                              }
                              return {};
                          }},
        "How the subject of a client certificate (RFC 2253, `CN=alice,OU=Apps,O=Example`) becomes the "
        "principal's name on SSL listeners (KIP-371): rules tried in order, the first that applies wins. "
        "`DEFAULT` keeps the subject; `RULE:pattern/replacement/` applies when the regular expression matches "
        "the whole subject and replaces it (`$1`... its groups), `/L` or `/U` after it lower- or upper-cases "
        "the result. `RULE:^CN=([^,]+),OU=Apps.*$/$1/L,DEFAULT` makes `User:alice`. A subject no rule applies "
        "to is refused. Patterns are ECMAScript regular expressions (Java's for the common forms: groups, "
        "classes, `.*?`; no `(?i)` or possessive quantifiers); `\\/` writes a slash."));
    k.push_back(key(security, "ssl.allow.dn.changes", &c::ssl_allow_dn_changes, "false", any<bool>(),
        "Whether a reloaded key store may hold a certificate with another subject (KIP-978). The broker "
        "reloads `ssl.keystore.location` and `ssl.truststore.location` when the files change; by default a "
        "new certificate must name the same subject as the old one, and is otherwise refused (logged, the "
        "old one kept)."));
    k.push_back(key(security, "ssl.allow.san.changes", &c::ssl_allow_san_changes, "false", any<bool>(),
        "Whether a reloaded key store may hold a certificate with other subject alternative names (KIP-978)."));
}

// Kafka's dynamic broker keys (DynamicBrokerConfig.AllDynamicConfigs) for
// what Strata does not have: Kerberos (GSSAPI) and login refresh, the
// cleaner's tuning, thread pools sized otherwise. Kafka's types, defaults,
// validators and update modes; each doc says what Strata does instead.
void add_inert_keys(std::vector<config_key>& k) {
    const auto per_broker = update_mode::per_broker;
    const auto cluster_wide = update_mode::cluster_wide;
    constexpr std::string_view kerberos = "Kafka's Kerberos (GSSAPI) setting; Strata has no GSSAPI. Accepted, not in effect.";
    k.push_back(inert(inert_section, "sasl.kerberos.service.name", "", any<std::string>(), per_broker, kerberos));
    k.push_back(inert(inert_section, "sasl.kerberos.kinit.cmd", "/usr/bin/kinit", any<std::string>(), per_broker,
        kerberos));
    k.push_back(inert(inert_section, "sasl.kerberos.ticket.renew.window.factor", "0.8", any<double>(), per_broker,
        kerberos));
    k.push_back(inert(inert_section, "sasl.kerberos.ticket.renew.jitter", "0.05", any<double>(), per_broker,
        kerberos));
    k.push_back(inert(inert_section, "sasl.kerberos.min.time.before.relogin", "60000", any<int64_t>(), per_broker,
        kerberos));
    k.push_back(inert(inert_section, "sasl.kerberos.principal.to.local.rules", "DEFAULT",
        any<std::vector<std::string>>(), per_broker, kerberos));
    constexpr std::string_view login = "Kafka's refresh of the broker's own login credential (OAUTHBEARER); Strata's "
                                       "brokers log in with PLAIN or SCRAM passwords, which need no refresh. "
                                       "Accepted, not in effect.";
    k.push_back(inert(inert_section, "sasl.login.refresh.window.factor", "0.8", any<double>(), per_broker,
        login));
    k.push_back(inert(inert_section, "sasl.login.refresh.window.jitter", "0.05", any<double>(), per_broker, login));
    k.push_back(inert(inert_section, "sasl.login.refresh.min.period.seconds", "60", between<int32_t>(-32768, 32767),
        per_broker, login));
    k.push_back(inert(inert_section, "sasl.login.refresh.buffer.seconds", "300", between<int32_t>(-32768, 32767),
                      per_broker, login));
    constexpr std::string_view cleaner = "Kafka's log cleaner tuning; Strata's compaction (`cleanup.policy=compact`) "
                                         "runs one pass at a time per log dir with buffers of its own. Accepted, not in "
                                         "effect.";
    k.push_back(inert(inert_section, "log.cleaner.threads", "1", at_least<int32_t>(0), cluster_wide, cleaner));
    k.push_back(inert(inert_section, "log.cleaner.dedupe.buffer.size", "134217728", any<int64_t>(), cluster_wide,
        cleaner));
    k.push_back(inert(inert_section, "log.cleaner.io.buffer.load.factor", "0.9", any<double>(), cluster_wide,
        cleaner));
    k.push_back(inert(inert_section, "log.cleaner.io.buffer.size", "524288", at_least<int32_t>(0), cluster_wide,
        cleaner));
    k.push_back(inert(inert_section, "log.cleaner.io.max.bytes.per.second", "1.7976931348623157E308",
        any<double>(), cluster_wide, cleaner));
    k.push_back(inert(inert_section, "background.threads", "10", at_least<int32_t>(1), cluster_wide,
        "Kafka's thread pool for background work; Strata's background tasks run on the executors of their "
        "subsystems (fsyncs on storage's four flusher threads). Accepted, not in effect."));
    k.push_back(inert(inert_section, "num.recovery.threads.per.data.dir", "1", at_least<int32_t>(1), cluster_wide,
        "Kafka's threads per log dir for log recovery at start-up and flush at shutdown. Strata recovers a "
        "partition's log when the first metadata image naming it is applied, one log after another on the "
        "metadata thread, and closes the logs one after another at shutdown. Accepted, not in effect."));
}

void add_operation_keys(std::vector<config_key>& k) {
    k.push_back(key(operations, "log.level", &c::log_level, "info",
        one_of<std::string>({"trace", "debug", "info", "warn", "error", "critical", "off"}),
        "How much the broker logs (to stderr). `stratad --log-level` overrides it. Strata's own key: "
        "Kafka configures logging with log4j."));
}

std::vector<config_key> make_schema() {
    std::vector<config_key> k;
    add_node_keys(k);
    add_listener_keys(k);
    add_network_keys(k);
    add_storage_keys(k);
    add_topic_keys(k);
    add_http_keys(k);
    add_sasl_keys(k);
    add_ssl_keys(k);
    add_authorizer_keys(k);
    add_delegation_token_keys(k);
    add_operation_keys(k);
    add_inert_keys(k);
    return k;
}

std::string escape_cell(std::string_view text) {
    std::string result;
    for (char ch : text) {
        if (ch == '|') result += '\\';
        result += ch;
    }
    return result;
}

}  // namespace

const std::vector<config_key>& config_schema() {
    static const std::vector<config_key> schema = make_schema();
    return schema;
}

const config_key* find_config_key(std::string_view name) {
    for (const auto& key : config_schema()) {
        if (key.name == name) return &key;
    }
    return nullptr;
}

namespace {

std::string_view type_text(replication::config_type type) {
    switch (type) {
        case replication::config_type::boolean: return "boolean";
        case replication::config_type::string: return "string";
        case replication::config_type::int_: return "int";
        case replication::config_type::short_: return "short";
        case replication::config_type::long_: return "long";
        case replication::config_type::double_: return "double";
        case replication::config_type::list: return "list";
    }
    return "string";
}

}  // namespace

std::string config_reference_markdown() {
    std::string out;
    std::string_view section;
    for (const auto& key : config_schema()) {
        if (key.section != section) {
            section = key.section;
            out += fmt::format("{}### {}\n\n", out.empty() ? "" : "\n", section);
            out += "| Key | Type | Default | Valid values | Update mode | Description |\n";
            out += "| --- | --- | --- | --- | --- | --- |\n";
        }
        // Kafka's update modes: "cluster-wide" keys change at run time
        // (AlterConfigs on a BROKER resource, "" or an id), "per-broker" ones
        // only for one broker (its id), the others need a restart.
        out += fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", key.name, key.type,
                           key.default_value.empty() ? std::string("*(empty)*")
                                                     : fmt::format("`{}`", key.default_value),
                           escape_cell(key.valid_values),
                           key.mode == update_mode::per_broker  ? "per-broker"
                           : is_dynamic_broker_config(key.name) ? "cluster-wide"
                                                                : "read-only",
                           escape_cell(key.doc));
    }
    // The topic configs, from their table (src/replication/topic_config.cc).
    out += "\n### Topic configs\n\n";
    out += "Set per topic (CreateTopics, AlterConfigs); a topic without its own value takes the first of its "
           "broker keys that is set (per broker, cluster default, file; see above), else the default.\n\n";
    out += "| Config | Type | Default | Valid values | Broker keys | Description |\n";
    out += "| --- | --- | --- | --- | --- | --- |\n";
    for (const auto& key : replication::topic_config_table()) {
        std::string synonyms;
        for (auto synonym : key.broker_synonyms) synonyms += fmt::format("{}`{}`", synonyms.empty() ? "" : ", ", synonym);
        out += fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", key.name, type_text(key.type),
                           key.default_value.empty() ? std::string("*(empty)*")
                                                     : fmt::format("`{}`", key.default_value),
                           escape_cell(key.validate.description), synonyms, escape_cell(key.doc));
    }
    return out;
}

}  // namespace strata::server
