#include "broker_lifecycle.h"

#include <algorithm>
#include <atomic>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <future>
#include <optional>

#include "controller_channel.h"
#include "strata/net/task_gate.h"
#include "strata/common/log.h"

namespace strata::server {

namespace asio = boost::asio;
namespace msg = protocol::messages;

namespace {

const auto& lifecycle_log() {
    static const auto instance = log::get("server");
    return instance;
}

// Kafka's SecurityProtocol ids.
int16_t security_protocol_id(const std::string& name) {
    if (name == "SSL") return 1;
    if (name == "SASL_PLAINTEXT") return 2;
    if (name == "SASL_SSL") return 3;
    return 0;  // PLAINTEXT
}

}  // namespace

msg::broker_registration_request make_registration(const broker_config& config) {
    msg::broker_registration_request request;
    request.broker_id = config.node_id;
    request.incarnation_id = protocol::uuid::random();
    if (!config.broker_rack.empty()) request.rack = config.broker_rack;
    for (const auto& l : config.effective_advertised_listeners()) {
        auto& out = request.listeners.emplace_back();
        out.name = l.name;
        out.host = l.host.empty() ? "localhost" : l.host;
        out.port = l.port;
        out.security_protocol = security_protocol_id(config.security_protocol(l.name).value_or("PLAINTEXT"));
    }
    auto& mv = request.features.emplace_back();
    mv.name = "metadata.version";
    mv.min_supported_version = 1;
    mv.max_supported_version = 21;
    return request;
}

namespace {

// Whether a broker other than `self` is unfenced and not shutting down: one
// that can take over leaderships.
bool other_broker_serves(const metadata::metadata_image& image, int32_t self) {
    return std::any_of(image.brokers().begin(), image.brokers().end(), [&](const auto& entry) {
        return entry.first != self && !entry.second.fenced && !entry.second.in_controlled_shutdown;
    });
}

}  // namespace

struct broker_lifecycle::impl {
    impl(asio::any_io_executor executor, metadata::metadata_service& metadata, controller_channel& controller,
         const broker_config& config)
        : metadata(metadata),
          controller(controller),
          registration(make_registration(config)),
          timer(executor),
          interval(config.broker_heartbeat_interval_ms),
          session_timeout(config.broker_session_timeout_ms) {}

    metadata::metadata_service& metadata;
    controller_channel& controller;
    msg::broker_registration_request registration;
    asio::steady_timer timer;
    net::task_gate tasks{"broker lifecycle"};  // the registration and heartbeat loop
    std::chrono::milliseconds interval;  // broker.heartbeat.interval.ms, once unfenced
    bool stopping = false;
    // steady_clock ticks of the last heartbeat answered; 0: none yet.
    std::atomic<int64_t> last_answer{0};
    // The end offset of the last image every earlier subscriber (the
    // broker's partitions among them) has applied; -1: none yet. The
    // heartbeat reports it as the broker's metadata offset, so the
    // controller unfences the broker (and may elect it) only once its
    // partitions' logs are open and recovered for the image with its
    // registration, as Kafka's broker asks to be unfenced only after its
    // first metadata publish has loaded its logs. (The image itself is
    // visible before its subscribers run: reporting it let a restarted
    // broker be elected leader while it was still recovering its logs,
    // found by the chaos suite: transaction markers waited 4 s for it.)
    std::atomic<int64_t> published_offset{-1};

    std::chrono::milliseconds session_timeout;  // broker.session.timeout.ms

    // Controlled shutdown (executor only): asked for, and the answer once known.
    bool want_shut_down = false;
    std::chrono::steady_clock::time_point shut_down_answered_at;
    std::promise<bool> shut_down_answer;
    std::shared_future<bool> shut_down_future = shut_down_answer.get_future().share();
    bool answered = false;

    void answer_shut_down(bool approved) {
        if (answered) return;
        answered = true;
        shut_down_answer.set_value(approved);
    }

    // While shutting down: true to stop heartbeating (approved, or given up).
    bool shut_down_progress(const msg::broker_heartbeat_response& response) {
        if (!want_shut_down) return false;
        const auto now = std::chrono::steady_clock::now();
        if (response.error_code == 0) shut_down_answered_at = now;
        if (response.error_code == 0 && response.should_shut_down) {
            lifecycle_log()->info("broker {}: the controller approved the controlled shutdown", registration.broker_id);
            answer_shut_down(true);
            return true;
        }
        if (!other_broker_serves(*metadata.image(), registration.broker_id)) {
            // The others are shutting down too (a whole cluster stopped at
            // once): there is nowhere to move anything, and waiting could
            // outlast the quorum.
            lifecycle_log()->info("broker {}: every other broker is shutting down or fenced; not waiting for the controller",
                           registration.broker_id);
            answer_shut_down(false);
            return true;
        }
        if (now - shut_down_answered_at >= session_timeout) {
            lifecycle_log()->warn("broker {}: no answer from the controller for {} ms; shutting down without its approval",
                           registration.broker_id, session_timeout.count());
            answer_shut_down(false);
            return true;
        }
        return false;
    }

    asio::awaitable<void> sleep(std::chrono::milliseconds d) {
        timer.expires_after(d);
        boost::system::error_code ignored;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }

    asio::awaitable<msg::broker_registration_response> register_with(bool remote) {
        if (!remote) co_return co_await metadata.register_broker(registration);
        auto answer = co_await controller.call<msg::broker_registration_response>(registration, 4,
                                                                                  std::chrono::milliseconds(5000));
        if (answer) co_return answer.value();
        msg::broker_registration_response failed;
        failed.error_code = static_cast<int16_t>(kafka_error::not_controller);
        co_return failed;
    }

    // How long one heartbeat waits for its answer: at most half the session,
    // so that a broker whose heartbeat went to a controller that then hung
    // (SIGSTOP, a cut network) still reaches the new active controller
    // within the session that controller started for it on taking over.
    // (A fixed 5 s outlived broker.session.timeout.ms 4000: the new
    // controller fenced every broker, itself included.)
    std::chrono::milliseconds heartbeat_timeout() const {
        return std::clamp(session_timeout / 2, std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
    }

    // nullopt: the controller was not reached (connection lost or refused,
    // a timeout); the registration still stands, so heartbeat again.
    asio::awaitable<std::optional<msg::broker_heartbeat_response>> heartbeat(bool remote,
                                                                             msg::broker_heartbeat_request request) {
        if (!remote) co_return co_await metadata.broker_heartbeat(request);
        auto answer = co_await controller.call<msg::broker_heartbeat_response>(request, 1, heartbeat_timeout());
        if (answer) co_return answer.value();
        co_return std::nullopt;
    }

    // Sleeps `d`, but wakes as soon as the active controller changes: a new
    // controller fences brokers it does not hear from soon.
    asio::awaitable<void> sleep_unless_controller_changes(std::chrono::milliseconds d, int32_t controller) {
        constexpr auto step = std::chrono::milliseconds(20);
        const auto until = std::chrono::steady_clock::now() + d;
        // A controlled shutdown asked for meanwhile heartbeats at once.
        const bool shutting_down = want_shut_down;
        while (!stopping && metadata.controller_id().value_or(-1) == controller &&
               want_shut_down == shutting_down) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            co_await sleep(std::min(left, step));
        }
    }

    static asio::awaitable<void> run(std::shared_ptr<impl> self) {
        int64_t epoch = -1;
        while (!self->stopping) {
            const auto controller = self->metadata.controller_id();
            if (!controller) {
                msg::broker_heartbeat_response none;
                none.error_code = static_cast<int16_t>(kafka_error::not_controller);
                if (self->shut_down_progress(none)) co_return;
                co_await self->sleep(std::chrono::milliseconds(50));
                continue;
            }
            const bool remote = *controller != self->registration.broker_id;
            if (epoch < 0) {
                auto response = co_await self->register_with(remote);
                if (response.error_code != 0) {
                    lifecycle_log()->warn("broker {}: registration failed with error {}", self->registration.broker_id,
                                   response.error_code);
                    co_await self->sleep(std::chrono::milliseconds(200));
                    continue;
                }
                epoch = response.broker_epoch;
                lifecycle_log()->info("broker {}: registered with epoch {}", self->registration.broker_id, epoch);
            }
            msg::broker_heartbeat_request heartbeat;
            heartbeat.broker_id = self->registration.broker_id;
            heartbeat.broker_epoch = epoch;
            heartbeat.current_metadata_offset = self->published_offset.load(std::memory_order_acquire);
            heartbeat.want_shut_down = self->want_shut_down;
            auto answer = co_await self->heartbeat(remote, heartbeat);
            if (!answer) {
                msg::broker_heartbeat_response none;
                none.error_code = static_cast<int16_t>(kafka_error::not_controller);
                if (self->shut_down_progress(none)) co_return;
                // The controller's connection closed or it did not answer:
                // try again at once (on a new connection, or to a new
                // controller), the controller fences a broker that stays
                // silent after its connection closed.
                co_await self->sleep(std::chrono::milliseconds(10));
                continue;
            }
            auto& response = *answer;
            if (self->shut_down_progress(response)) co_return;
            if (response.error_code == static_cast<int16_t>(kafka_error::not_controller)) {
                // Between controllers: the registration stands; heartbeat the
                // next one as soon as it is known.
                co_await self->sleep_unless_controller_changes(std::chrono::milliseconds(50), *controller);
                continue;
            }
            if (response.error_code != 0 && self->want_shut_down) {
                // Registering again would only undo the shutdown: ask again.
                co_await self->sleep(std::chrono::milliseconds(50));
                continue;
            }
            if (response.error_code != 0) {
                lifecycle_log()->info("broker {}: heartbeat refused ({}); registering again", heartbeat.broker_id,
                               response.error_code);
                epoch = -1;
                continue;
            }
            self->last_answer.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                                    std::memory_order_relaxed);
            // Heartbeat quickly until unfenced, then every broker.heartbeat.interval.ms.
            // In controlled shutdown, every 50 ms (Kafka's broker asks as often).
            const bool soon = response.is_fenced || self->want_shut_down;
            co_await self->sleep_unless_controller_changes(soon ? std::chrono::milliseconds(50) : self->interval,
                                                           *controller);
        }
    }
};

broker_lifecycle::broker_lifecycle(asio::any_io_executor executor, metadata::metadata_service& metadata,
                                   controller_channel& controller, const broker_config& config)
    : _impl(std::make_shared<impl>(executor, metadata, controller, config)) {}

broker_lifecycle::~broker_lifecycle() { stop(); }

void broker_lifecycle::start() {
    // Subscribed here, after the data plane (the quorum starts once the
    // broker's subsystems have subscribed): listeners run in order on the
    // metadata strand, so this one sees an image once they have applied it.
    _impl->metadata.on_image([weak = std::weak_ptr(_impl)](const std::shared_ptr<const metadata::metadata_image>& image,
                                                           const metadata::image_changes&) {
        if (auto self = weak.lock()) self->published_offset.store(image->end_offset(), std::memory_order_release);
    });
    _impl->tasks.spawn(_impl->timer.get_executor(), impl::run(_impl));
}

bool broker_lifecycle::controlled_shutdown(std::chrono::milliseconds timeout) {
    auto self = _impl;
    const auto image = self->metadata.image();
    const int32_t id = self->registration.broker_id;
    const auto* me = image->broker(id);
    const bool registered = me && !me->fenced;
    const bool others = other_broker_serves(*image, id);
    if (!registered || !others) {
        lifecycle_log()->info("broker {}: no controlled shutdown ({})", id,
                       registered ? "no other broker is unfenced" : "not registered and unfenced");
        return false;
    }
    std::promise<std::shared_future<bool>> handed;
    auto future_future = handed.get_future();
    asio::post(self->timer.get_executor(), [self, handed = std::move(handed)]() mutable {
        if (!self->want_shut_down) {
            self->want_shut_down = true;
            self->shut_down_answered_at = std::chrono::steady_clock::now();
            self->timer.cancel();  // heartbeat now, not at the next interval
        }
        handed.set_value(self->shut_down_future);
    });
    lifecycle_log()->info("broker {}: controlled shutdown: asking the controller to move this broker's leaderships", id);
    const auto started = std::chrono::steady_clock::now();
    if (future_future.wait_for(timeout) != std::future_status::ready) return false;
    auto approved = future_future.get();
    const auto left = timeout - (std::chrono::steady_clock::now() - started);
    if (approved.wait_for(left) != std::future_status::ready) {
        lifecycle_log()->warn("broker {}: controlled shutdown not approved within {} ms; shutting down anyway", id,
                       timeout.count());
        return false;
    }
    const bool ok = approved.get();
    lifecycle_log()->info("broker {}: controlled shutdown {} after {} ms", id, ok ? "done" : "given up",
                   std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
                       .count());
    return ok;
}

const protocol::uuid& broker_lifecycle::incarnation_id() const { return _impl->registration.incarnation_id; }

std::optional<std::chrono::steady_clock::time_point> broker_lifecycle::last_heartbeat_answer() const {
    const auto ticks = _impl->last_answer.load(std::memory_order_relaxed);
    if (ticks == 0) return std::nullopt;
    return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(ticks));
}

void broker_lifecycle::stop() {
    auto self = _impl;
    asio::post(self->timer.get_executor(), [self] {
        self->stopping = true;
        self->timer.cancel();
    });
}

bool broker_lifecycle::wait_stopped(std::chrono::milliseconds grace) { return _impl->tasks.close_and_wait(grace); }

}  // namespace strata::server
