#include "strata/net/client_connection.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <deque>
#include <map>
#include <optional>

#include "strata/net/async_event.h"
#include "strata/common/log.h"
#include "strata/protocol/messages/request_header.h"
#include "strata/protocol/messages/response_header.h"
#include "strata/protocol/messages/sasl_authenticate_request.h"
#include "strata/protocol/messages/sasl_authenticate_response.h"
#include "strata/protocol/messages/sasl_handshake_request.h"
#include "strata/protocol/messages/sasl_handshake_response.h"
#include "strata/security/sasl.h"
#include "strata/security/scram.h"

namespace strata::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {
const auto& logger() {
    static const auto instance = log::get("net");
    return instance;
}
}  // namespace

std::string_view to_string(client_error error) {
    switch (error) {
        case client_error::timed_out: return "timed out";
        case client_error::disconnected: return "disconnected";
        case client_error::closed: return "closed";
        case client_error::malformed: return "malformed response";
    }
    return "unknown";
}

protocol::reader response_frame::body() const {
    protocol::reader r(std::span<const uint8_t>(*frame).subspan(body_offset), frame);
    return r;
}

// A request waiting for its answer. The timer expires at the deadline; the
// read loop cancels it early when the answer (or a failure) is in.
struct pending_call {
    pending_call(const asio::any_io_executor& executor, clock_type::time_point deadline, int16_t header_version)
        : timer(executor, deadline), response_header_version(header_version) {}
    asio::steady_timer timer;
    int16_t response_header_version;
    // The answer or the failure (one of them, once).
    std::optional<response_frame> answer;
    std::optional<client_error> failure;

    bool completed() const { return answer || failure; }
    void complete(response_frame frame) {
        if (completed()) return;
        answer = std::move(frame);
        timer.cancel();
    }
    void fail(client_error error) {
        if (completed()) return;
        failure = error;
        timer.cancel();
    }
};

// A connection's byte stream: the socket, or TLS over it.
struct client_transport {
    explicit client_transport(asio::any_io_executor executor) : socket(executor) {}
    tcp::socket socket;
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;

    template <typename Buffers>
    asio::awaitable<void> read(const Buffers& buffers, boost::system::error_code& ec) {
        if (tls) co_await asio::async_read(*tls, buffers, asio::redirect_error(asio::use_awaitable, ec));
        else co_await asio::async_read(socket, buffers, asio::redirect_error(asio::use_awaitable, ec));
    }
    template <typename Buffers>
    asio::awaitable<void> write(const Buffers& buffers, boost::system::error_code& ec) {
        if (tls) co_await asio::async_write(*tls, buffers, asio::redirect_error(asio::use_awaitable, ec));
        else co_await asio::async_write(socket, buffers, asio::redirect_error(asio::use_awaitable, ec));
    }
    void close(boost::system::error_code& ec) { socket.close(ec); }
};

struct client_connection::impl {
    impl(asio::any_io_executor executor, client_options opts)
        : executor(executor), options(std::move(opts)), connect_done(executor), reader_done(executor) {}

    asio::any_io_executor executor;
    client_options options;

    // One socket per connection; a new one for each reconnect, so that the
    // old read loop can never read from the new connection.
    std::shared_ptr<client_transport> socket;
    std::string last_failure;
    // The last TLS or SASL failure logged, and when: a node whose password or
    // certificate a peer refuses says why in its log, once per distinct
    // reason (and again every minute), not once per reconnect attempt.
    std::string logged_failure;
    clock_type::time_point logged_at{};
    uint64_t generation = 0;
    bool connecting = false;
    bool closed = false;
    clock_type::time_point next_attempt{};
    std::chrono::milliseconds backoff{0};
    detail::async_event connect_done;

    int32_t next_correlation_id = 1;
    std::map<int32_t, std::shared_ptr<pending_call>> pending;

    std::deque<std::vector<uint8_t>> write_queue;
    bool writing = false;

    size_t readers = 0;
    detail::async_event reader_done;

    // KIP-368: when the SASL session the broker gave this connection
    // (session_lifetime_ms) is 85% through, as Kafka's clients re-authenticate
    // at 85-95%. This client does not re-authenticate in place: it replaces
    // the connection with a freshly authenticated one before its next
    // request, when none is in flight (see request()).
    std::optional<clock_type::time_point> session_renew_at;

    void fail_all(client_error error) {
        auto calls = std::move(pending);
        pending.clear();
        for (auto& [id, call] : calls) call->fail(error);
    }

    void drop_connection(uint64_t gen, client_error error) {
        if (gen != generation || !socket) return;
        boost::system::error_code ignored;
        socket->close(ignored);
        socket.reset();
        write_queue.clear();
        fail_all(error);
    }
};

client_connection::client_connection(std::unique_ptr<impl> impl) : _impl(std::move(impl)) {}
client_connection::~client_connection() = default;

std::shared_ptr<client_connection> client_connection::create(asio::any_io_executor executor, client_options options) {
    return std::shared_ptr<client_connection>(
        new client_connection(std::make_unique<impl>(std::move(executor), std::move(options))));
}

bool client_connection::connected() const { return _impl->socket != nullptr; }
const client_options& client_connection::options() const { return _impl->options; }
const std::string& client_connection::last_failure() const { return _impl->last_failure; }

namespace {

asio::awaitable<void> read_loop(std::shared_ptr<client_connection> self, client_connection::impl* s,
                                std::shared_ptr<client_transport> socket, uint64_t gen) {
    boost::system::error_code ec;
    for (;;) {
        std::array<uint8_t, 4> size_bytes{};
        co_await socket->read(asio::buffer(size_bytes), ec);
        if (ec) break;
        const int32_t size = static_cast<int32_t>((uint32_t{size_bytes[0]} << 24) | (uint32_t{size_bytes[1]} << 16) |
                                                  (uint32_t{size_bytes[2]} << 8) | uint32_t{size_bytes[3]});
        if (size < 4 || size > s->options.max_response_bytes) {
            logger()->warn("{}:{}: response of {} bytes; closing", s->options.host, s->options.port, size);
            break;
        }
        auto frame = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(size));
        co_await socket->read(asio::buffer(*frame), ec);
        if (ec) break;
        const int32_t correlation_id = static_cast<int32_t>((uint32_t{(*frame)[0]} << 24) |
                                                            (uint32_t{(*frame)[1]} << 16) |
                                                            (uint32_t{(*frame)[2]} << 8) | uint32_t{(*frame)[3]});
        auto found = s->pending.find(correlation_id);
        if (found == s->pending.end()) continue;  // the answer to a request that timed out
        auto call = found->second;
        s->pending.erase(found);
        try {
            protocol::reader r(*frame, frame);
            protocol::messages::response_header header;
            header.decode(r, call->response_header_version);
            call->complete(response_frame{frame, r.position()});
        } catch (const protocol::decode_error&) {
            call->fail(client_error::malformed);
        }
    }
    s->drop_connection(gen, s->closed ? client_error::closed : client_error::disconnected);
    if (--s->readers == 0) s->reader_done.notify_all();
}

// Connects within the timeout; false (and the socket closed) if not.
asio::awaitable<bool> connect_socket(client_connection::impl* s, tcp::socket& socket) {
    boost::system::error_code ec;
    tcp::resolver resolver(s->executor);
    auto endpoints = co_await resolver.async_resolve(s->options.host, std::to_string(s->options.port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    // The timer closes the socket if connecting takes too long, which
    // completes async_connect with an error.
    auto timer = std::make_shared<asio::steady_timer>(s->executor, s->options.connect_timeout);
    auto expired = std::make_shared<bool>(false);
    timer->async_wait([&socket, expired](const boost::system::error_code& wait_ec) {
        if (wait_ec) return;
        *expired = true;
        boost::system::error_code ignored;
        socket.close(ignored);
    });
    co_await asio::async_connect(socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    timer->cancel();
    if (ec || *expired) {
        boost::system::error_code ignored;
        socket.close(ignored);
        co_return false;
    }
    socket.set_option(tcp::no_delay(true), ec);
    co_return true;
}

// One request and its answer on a connection not yet handed to the read
// loop (the SASL exchange). nullopt if the transport fails.
template <typename Response, typename Request>
asio::awaitable<std::optional<Response>> exchange(client_connection::impl* s, client_transport& t,
                                                  const Request& request, int16_t version, int32_t correlation_id) {
    const auto key = static_cast<protocol::api_key>(Request::api_key);
    protocol::messages::request_header header;
    header.request_api_key = Request::api_key;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = s->options.client_id;
    protocol::encoded_output out;
    protocol::writer w(out);
    w.write_int32(0);
    header.encode(w, protocol::request_header_version(key, version));
    request.encode(w, version);
    const auto size = static_cast<uint32_t>(out.bytes.size() - 4);
    for (int i = 0; i < 4; ++i) out.bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(size >> (24 - 8 * i));
    boost::system::error_code ec;
    co_await t.write(asio::buffer(out.bytes), ec);
    std::array<uint8_t, 4> size_bytes{};
    if (!ec) co_await t.read(asio::buffer(size_bytes), ec);
    if (ec) co_return std::nullopt;
    const uint32_t answer_size = (uint32_t{size_bytes[0]} << 24) | (uint32_t{size_bytes[1]} << 16) |
                                 (uint32_t{size_bytes[2]} << 8) | uint32_t{size_bytes[3]};
    if (answer_size < 4 || answer_size > 1048576) co_return std::nullopt;
    std::vector<uint8_t> frame(answer_size);
    co_await t.read(asio::buffer(frame), ec);
    if (ec) co_return std::nullopt;
    try {
        protocol::reader r(frame);
        protocol::messages::response_header response_header;
        response_header.decode(r, protocol::response_header_version(key, version));
        Response response;
        response.decode(r, version);
        co_return response;
    } catch (const protocol::decode_error&) {
        co_return std::nullopt;
    }
}

// SaslHandshake v1, then SaslAuthenticate v1 until the mechanism completes.
asio::awaitable<bool> authenticate(client_connection::impl* s, client_transport& t) {
    namespace msg = protocol::messages;
    const auto& o = s->options;
    msg::sasl_handshake_request handshake;
    handshake.mechanism = o.sasl_mechanism;
    auto shook = co_await exchange<msg::sasl_handshake_response>(s, t, handshake, 1, 1);
    if (!shook) {
        s->last_failure = "SaslHandshake: no answer (is the listener SASL_PLAINTEXT or SASL_SSL?)";
        co_return false;
    }
    if (shook->error_code != 0) {
        std::string offered;
        for (const auto& m : shook->mechanisms) offered += (offered.empty() ? "" : ",") + m;
        s->last_failure = "SaslHandshake: error " + std::to_string(shook->error_code) + " (the broker offers " +
                          offered + ")";
        co_return false;
    }
    int64_t session_lifetime_ms = 0;
    std::vector<std::string> tokens;
    std::optional<security::scram_client> scram;
    if (o.sasl_mechanism == "PLAIN") {
        tokens.push_back(std::string(1, '\0') + o.sasl_username + std::string(1, '\0') + o.sasl_password);
    } else if (auto m = security::scram_mechanism_from_name(o.sasl_mechanism)) {
        scram.emplace(*m, o.sasl_username, o.sasl_password);
        tokens.push_back(scram->first());
    } else {
        s->last_failure = "unsupported SASL mechanism " + o.sasl_mechanism;
        co_return false;
    }
    for (int32_t step = 0; step < 3 && !tokens.empty(); ++step) {
        msg::sasl_authenticate_request request;
        request.auth_bytes.assign(tokens.back().begin(), tokens.back().end());
        tokens.clear();
        auto answer = co_await exchange<msg::sasl_authenticate_response>(s, t, request, 1, 2 + step);
        if (!answer) {
            s->last_failure = "SaslAuthenticate: no answer";
            co_return false;
        }
        if (answer->error_code != 0) {
            s->last_failure = (answer->error_code == 58 ? std::string("SASL_AUTHENTICATION_FAILED")
                                                        : "SaslAuthenticate error " + std::to_string(answer->error_code)) +
                              (answer->error_message ? ": " + *answer->error_message : "");
            co_return false;
        }
        session_lifetime_ms = answer->session_lifetime_ms;
        if (!scram) break;
        const std::string server(answer->auth_bytes.begin(), answer->auth_bytes.end());
        std::string error;
        if (step == 0) {
            auto final = scram->final(server, error);
            if (!final) {
                s->last_failure = "SCRAM: " + error;
                co_return false;
            }
            tokens.push_back(*final);
        } else if (!scram->verify(server, error)) {
            s->last_failure = "SCRAM: " + error;
            co_return false;
        }
    }
    s->session_renew_at.reset();
    if (session_lifetime_ms > 0)
        s->session_renew_at = clock_type::now() + std::chrono::milliseconds(session_lifetime_ms * 85 / 100);
    co_return true;
}

// The TLS handshake and the SASL exchange the options ask for.
asio::awaitable<bool> secure(client_connection::impl* s, client_transport& t) {
    if (s->options.tls) {
        t.tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(t.socket, *s->options.tls);
        SSL_set_tlsext_host_name(t.tls->native_handle(), s->options.host.c_str());
        if (s->options.verify_hostname) t.tls->set_verify_callback(asio::ssl::host_name_verification(s->options.host));
        boost::system::error_code ec;
        co_await t.tls->async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            s->last_failure = "TLS handshake: " + ec.message();
            boost::system::error_code ignored;
            t.close(ignored);
            co_return false;
        }
    }
    if (s->options.sasl_mechanism.empty()) co_return true;
    const bool ok = co_await authenticate(s, t);
    if (!ok) {
        boost::system::error_code ignored;
        t.close(ignored);
    }
    co_return ok;
}

}  // namespace

asio::awaitable<client_result<response_frame>> client_connection::request(protocol::api_key key, int16_t version,
                                                                          protocol::encoded_output body,
                                                                          std::chrono::milliseconds timeout) {
    auto self = shared_from_this();
    impl* s = _impl.get();
    const auto deadline = clock_type::now() + timeout;
    if (s->closed) co_return client_error::closed;

    // A session near its end (KIP-368) is renewed by reconnecting while no
    // request is in flight, so that none is lost to the broker's close.
    if (s->socket && s->session_renew_at && clock_type::now() >= *s->session_renew_at && s->pending.empty() &&
        !s->writing && !s->connecting) {
        s->session_renew_at.reset();
        s->drop_connection(s->generation, client_error::disconnected);
    }

    while (!s->socket) {
        if (s->connecting) {
            co_await s->connect_done.wait();  // bounded by the connect timeout
            if (s->closed) co_return client_error::closed;
            if (!s->socket) co_return client_error::disconnected;
            break;
        }
        if (clock_type::now() < s->next_attempt) co_return client_error::disconnected;
        s->connecting = true;
        auto socket = std::make_shared<client_transport>(s->executor);
        bool ok = co_await connect_socket(s, socket->socket);
        if (!ok) s->last_failure = "cannot connect";
        if (ok) ok = co_await secure(s, *socket);
        s->connecting = false;
        if (s->closed) {
            boost::system::error_code ignored;
            socket->close(ignored);
            s->connect_done.notify_all();
            co_return client_error::closed;
        }
        if (!ok) {
            if (s->last_failure != "cannot connect" &&
                (s->last_failure != s->logged_failure || clock_type::now() - s->logged_at >= std::chrono::minutes(1))) {
                logger()->warn("{}:{} ({}): {}; retrying", s->options.host, s->options.port, s->options.client_id,
                               s->last_failure);
                s->logged_failure = s->last_failure;
                s->logged_at = clock_type::now();
            }
            s->backoff = s->backoff.count() == 0 ? s->options.reconnect_backoff
                                                 : std::min(s->backoff * 2, s->options.reconnect_backoff_max);
            s->next_attempt = clock_type::now() + s->backoff;
            s->connect_done.notify_all();
            co_return client_error::disconnected;
        }
        s->backoff = std::chrono::milliseconds{0};
        if (!s->logged_failure.empty()) {
            logger()->info("{}:{} ({}): connected{}", s->options.host, s->options.port, s->options.client_id,
                           s->options.sasl_mechanism.empty() ? "" : " and authenticated");
            s->logged_failure.clear();
        }
        s->last_failure.clear();
        s->socket = socket;
        const uint64_t gen = ++s->generation;
        ++s->readers;
        asio::co_spawn(s->executor, read_loop(self, s, socket, gen), asio::detached);
        s->connect_done.notify_all();
    }

    const int32_t correlation_id = s->next_correlation_id++;
    if (s->next_correlation_id < 0) s->next_correlation_id = 1;
    protocol::messages::request_header header;
    header.request_api_key = static_cast<int16_t>(key);
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = s->options.client_id;
    const int16_t header_version = protocol::request_header_version(key, version);
    protocol::encoded_output head;
    protocol::writer w(head);
    w.write_int32(0);  // the size, filled in below
    header.encode(w, header_version);
    std::vector<uint8_t> frame = std::move(head.bytes);
    frame.insert(frame.end(), body.bytes.begin(), body.bytes.end());
    const auto size = static_cast<uint32_t>(frame.size() - 4);
    frame[0] = static_cast<uint8_t>(size >> 24);
    frame[1] = static_cast<uint8_t>(size >> 16);
    frame[2] = static_cast<uint8_t>(size >> 8);
    frame[3] = static_cast<uint8_t>(size);

    auto call = std::make_shared<pending_call>(s->executor, deadline, protocol::response_header_version(key, version));
    s->pending[correlation_id] = call;
    s->write_queue.push_back(std::move(frame));
    if (!s->writing) {
        // This coroutine writes until the queue is empty, including frames
        // that other requests queue meanwhile: one writer at a time.
        s->writing = true;
        const uint64_t gen = s->generation;
        auto socket = s->socket;
        while (!s->write_queue.empty() && socket && gen == s->generation) {
            auto next = std::move(s->write_queue.front());
            s->write_queue.pop_front();
            boost::system::error_code ec;
            co_await socket->write(asio::buffer(next), ec);
            if (ec) {
                s->drop_connection(gen, s->closed ? client_error::closed : client_error::disconnected);
                break;
            }
        }
        s->writing = false;
    }
    if (!call->completed()) {
        boost::system::error_code ignored;
        co_await call->timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    if (call->answer) co_return std::move(*call->answer);
    if (call->failure) co_return *call->failure;
    s->pending.erase(correlation_id);
    co_return client_error::timed_out;
}

void client_connection::close() {
    impl* s = _impl.get();
    if (s->closed) return;
    s->closed = true;
    if (s->socket) {
        boost::system::error_code ignored;
        s->socket->close(ignored);  // ends the read loop
    }
    s->fail_all(client_error::closed);
    s->connect_done.notify_all();
}

asio::awaitable<void> client_connection::stopped() {
    auto self = shared_from_this();
    while (_impl->readers > 0) co_await _impl->reader_done.wait();
}

}  // namespace strata::net
