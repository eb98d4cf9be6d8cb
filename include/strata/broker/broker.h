// One Strata node: every subsystem and the threads they run on, owned in one
// place, started in dependency order and stopped in reverse.
//
//   metrics registry      (first: everyone registers into it)
//   metadata quorum       raft node + metadata image + controller, its thread
//   data plane            (broker role) logs, partitions, replica fetchers,
//                         subscribed to the image before the quorum starts
//   request pipeline      handlers over the above, with the authorizer,
//                         quota and metrics stages
//   network server        listeners, connections, network threads
//   HTTP listener         (http.listeners) /metrics and /health, on the
//                         network threads
//
// stop() runs the list bottom-up: the HTTP listener, the network server
// (its handlers call into everything else), then the quorum (no new metadata reaches the
// partitions), then the data plane (flushes and closes the logs). Nothing a
// subsystem starts outlives its stop().
//
// Created, started and stopped by one controlling thread (stratad's main).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "strata/metrics/registry.h"
#include "strata/net/server.h"
#include "strata/server/broker_config.h"

namespace strata::broker {

// The directories a node keeps its identity (meta.properties) in: every log
// dir and the metadata log's.
std::vector<std::string> identity_directories(const server::broker_config& config);

class broker {
public:
    explicit broker(server::broker_config config);
    ~broker();  // stop()

    broker(const broker&) = delete;
    broker& operator=(const broker&) = delete;

    // Creates the data directories, checks the node's identity (formatting a
    // single-node quorum on its first start), then starts every subsystem.
    // Throws std::runtime_error saying what could not start; whatever had
    // started is stopped again first.
    void start();

    // Stops everything started, in reverse order. Idempotent.
    void stop();

    const server::broker_config& config() const { return _config; }
    // The addresses the listeners are bound to (after start()).
    std::vector<net::bound_endpoint> endpoints() const;
    // The HTTP listener's addresses (empty when http.listeners is).
    std::vector<boost::asio::ip::tcp::endpoint> http_endpoints() const;
    metrics::registry& metrics() { return _metrics; }
    // Set before start(): called (once, on any thread, must not block) when
    // the node can no longer serve and must stop, with the reason: its log
    // directory failed (Kafka: "Shutdown broker because all log dirs in ...
    // have failed"). The caller then stops the node, as for SIGTERM: the
    // controlled shutdown moves its leaderships to in-sync replicas.
    void on_fatal(std::function<void(const std::string&)> handler) { _on_fatal = std::move(handler); }

private:
    void register_network_metrics();
    void start_http();

    const server::broker_config _config;
    metrics::registry _metrics;
    std::function<void(const std::string&)> _on_fatal;
    struct subsystems;
    std::unique_ptr<subsystems> _running;  // null until started, and after stop()
};

}  // namespace strata::broker
