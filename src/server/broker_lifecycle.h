// The broker's side of KIP-631: register with the active controller, then
// heartbeat every broker.heartbeat.interval.ms so that the controller
// unfences the broker once it has caught up with the metadata log, and
// fences it if the heartbeats stop.
//
// The controller is reached in-process when this node is the active
// controller, else over BrokerRegistration/BrokerHeartbeat RPCs on the
// controller listener (controller_channel.h).
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>

#include "strata/metadata/metadata_service.h"
#include "strata/server/broker_config.h"

namespace strata::server {
class controller_channel;
}

namespace strata::server {

// Lives on the metadata quorum's executor (one thread); start() and stop()
// are called from the main thread.
class broker_lifecycle {
public:
    broker_lifecycle(boost::asio::any_io_executor executor, metadata::metadata_service& metadata,
                     controller_channel& controller, const broker_config& config);
    ~broker_lifecycle();

    void start();
    void stop();
    // After stop(), from another thread than the executor's: waits up to
    // `grace` for the heartbeat loop to end (true if it has).
    bool wait_stopped(std::chrono::milliseconds grace);

    // Controlled shutdown (KIP-631), called from the main thread before the
    // broker closes: heartbeats at once and then every 50 ms with
    // WantShutDown until the controller answers ShouldShutDown (it has moved
    // this broker's leaderships and every active broker knows), and returns
    // true then. Returns false at once when no other broker is unfenced
    // (nowhere to move anything) or this one is not registered and
    // unfenced; false after `timeout`, or once the controller has not
    // answered for broker.session.timeout.ms. Blocks the caller, not the
    // quorum's thread.
    bool controlled_shutdown(std::chrono::milliseconds timeout);
    // When the controller last answered a heartbeat (readiness); nullopt
    // before the first answer. Any thread.
    std::optional<std::chrono::steady_clock::time_point> last_heartbeat_answer() const;
    // The incarnation id this process registers with (fixed for its life).
    const protocol::uuid& incarnation_id() const;

private:
    struct impl;
    std::shared_ptr<impl> _impl;
};

// The RegisterBroker request this node sends: its id, a fresh incarnation,
// its advertised listeners with their security protocols, its rack.
protocol::messages::broker_registration_request make_registration(const broker_config& config);

}  // namespace strata::server
