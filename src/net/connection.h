#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "request_budget.h"
#include "strata/net/async_event.h"
#include "strata/net/request_handler.h"
#include "strata/security/principal_mapping.h"

namespace strata::net::detail {

struct connection_options {
    int32_t max_request_bytes = 104857600;
    int32_t max_unauthenticated_request_bytes = 524288;  // sasl.server.max.receive.size
    size_t max_in_flight_requests = 100;
    size_t max_in_flight_bytes = 104857600;
    // Broker-wide (queued.max.request.bytes); shared by every connection.
    std::shared_ptr<request_budget> budget = std::make_shared<request_budget>(-1);
};

// One client connection: reads size-prefixed frames, hands each to the
// request_handler, writes the responses back in request order.
//
// Owned by shared_ptr: by the coroutine running run(), and by each coroutine
// it starts (the write loop and one per request), so it outlives them all.
// Lives on one executor (an io_context run by one thread) for its whole life;
// every member function must be called on it (post close() from elsewhere).
//
// Coroutines, all on that executor, all owned here:
// - run(): the read loop; when it ends, waits for the others, then closes.
// - the write loop: writes answered requests, in order, as they become ready.
// - one per request: awaits the handler and stores its result in the
//   request's slot.
// close() stops the read and write loops at once (closing the socket cancels
// their I/O); request coroutines run to completion and their results are
// dropped. run() returns only after every one of them has finished, so
// nothing refers to the connection after that.
class connection : public std::enable_shared_from_this<connection> {
public:
    // `tls` non-null: the connection begins with a TLS handshake and every
    // byte goes through it (file regions are copied, never sendfile'd).
    connection(boost::asio::ip::tcp::socket socket, connection_info info, const connection_options& options,
               request_handler& handler, std::shared_ptr<boost::asio::ssl::context> tls = nullptr,
               std::shared_ptr<const security::ssl_principal_mapper> principal_mapper = nullptr);
    ~connection();

    boost::asio::awaitable<void> run();
    void close();

    const connection_info& info() const { return _info; }
    boost::asio::any_io_executor get_executor() { return _executor; }

private:
    // A request in flight, from frame read to response written.
    struct slot {
        size_t frame_size = 0;
        std::chrono::steady_clock::time_point received{};  // the frame fully read
        bool done = false;  // the handler has returned
        handler_result result;
        std::array<uint8_t, 4> size_prefix{};
    };

    boost::asio::awaitable<void> read_loop();
    boost::asio::awaitable<bool> tls_handshake();
    // The socket, or the TLS stream over it.
    boost::asio::awaitable<size_t> read_some(boost::asio::mutable_buffer buffer, boost::system::error_code& ec);
    boost::asio::awaitable<void> write_all(const std::vector<boost::asio::const_buffer>& buffers,
                                           boost::system::error_code& ec);
    // A SASL connection that has not authenticated yet.
    bool unauthenticated() const { return _info.sasl && !_info.sasl->authenticated(); }
    boost::asio::awaitable<bool> fill(size_t n);
    // Until _throttled_until (KIP-219 muting), or until closed.
    boost::asio::awaitable<void> wait_out_throttle();
    boost::asio::awaitable<std::shared_ptr<std::vector<uint8_t>>> read_frame(size_t size);
    void start_request(std::shared_ptr<std::vector<uint8_t>> frame);
    boost::asio::awaitable<void> handle_request(std::shared_ptr<slot> request,
                                                std::shared_ptr<const std::vector<uint8_t>> frame);

    boost::asio::awaitable<void> write_loop();
    boost::asio::awaitable<bool> write_ready_responses();
    boost::asio::awaitable<bool> write_response(slot& request, std::vector<boost::asio::const_buffer>& gather);
    boost::asio::awaitable<bool> flush(std::vector<boost::asio::const_buffer>& gather);
    boost::asio::awaitable<bool> send_file_region(const protocol::file_region& region);
    boost::asio::awaitable<bool> sendfile_region(const protocol::file_region& region);
    boost::asio::awaitable<bool> copy_file_region(const protocol::file_region& region);

    bool at_in_flight_bound() const;
    void log_io_error(const char* what, const boost::system::error_code& ec);

    boost::asio::any_io_executor _executor;
    boost::asio::ip::tcp::socket _socket;
    std::shared_ptr<boost::asio::ssl::context> _tls_context;
    std::shared_ptr<const security::ssl_principal_mapper> _principal_mapper;  // null: DEFAULT
    std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> _tls;
    std::vector<uint8_t> _tls_out;  // a gather write, coalesced into whole TLS records
    connection_info _info;
    connection_options _options;
    request_handler& _handler;

    // Received bytes not yet consumed: [_read_begin, _read_end) of _read_buffer.
    std::vector<uint8_t> _read_buffer;
    size_t _read_begin = 0;
    size_t _read_end = 0;

    std::deque<std::shared_ptr<slot>> _in_flight;  // in request order
    size_t _in_flight_bytes = 0;
    bool _peer_finished_sending = false;  // read returned end-of-file
    bool _reading_done = false;           // no more requests will be added
    bool _closed = false;

    // KIP-219 muting: no request is read before this (a throttled client).
    std::chrono::steady_clock::time_point _throttled_until{};
    // The client has been throttled: from then on its requests are handled
    // one at a time, as Kafka's always are, so that each throttle is known
    // before the next request is read.
    bool _one_at_a_time = false;
    boost::asio::steady_timer _throttle_timer;
    std::shared_ptr<request_budget::ticket> _budget_wait;  // while waiting for request memory
    async_event _reader_wakeup;  // a slot was freed, or closed
    async_event _writer_wakeup;  // a request was answered, reading ended, or closed
    task_group _tasks;           // the write loop and the request coroutines
};

}  // namespace strata::net::detail
