#include "connection.h"

#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "strata/common/log.h"
#include "strata/security/tls.h"

namespace strata::net::detail {

namespace asio = boost::asio;
using asio::redirect_error;
using asio::use_awaitable;
using asio::ip::tcp;
using security::peer_certificate_subject;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
    static const auto instance = log::get("net");
    return instance;
}

// Small enough to keep per idle connection, large enough to take many small
// pipelined requests in one read.
constexpr size_t read_buffer_size = 16 * 1024;
// A large frame's buffer starts at this and doubles as its bytes arrive.
constexpr size_t min_frame_growth = 64 * 1024;
// Ready responses written with one gather write, at most.
constexpr size_t max_batch_responses = 32;
// Asio hands at most 64 buffers to one writev.
constexpr size_t max_gather_buffers = 64;
// Copying a file region without sendfile goes through a buffer this large.
constexpr size_t copy_chunk_size = 256 * 1024;

uint32_t load_be32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void store_be32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

std::string describe(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "unknown exception";
    }
}

// The size of a response on the wire, or nullopt if the handler produced an
// output the connection cannot send (a bug in the handler, not in the peer).
std::optional<size_t> checked_total_size(const protocol::encoded_output& out, std::string& problem) {
    size_t total = out.bytes.size();
    size_t previous_at = 0;
    for (const auto& insert : out.file_inserts) {
        if (insert.at < previous_at || insert.at > out.bytes.size()) {
            problem = "file inserts out of order or beyond the bytes";
            return std::nullopt;
        }
        if (insert.region.length > 0 && insert.region.fd < 0) {
            problem = "file region without a file";
            return std::nullopt;
        }
        previous_at = insert.at;
        total += insert.region.length;
    }
    if (total > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
        problem = "response larger than a frame can be";
        return std::nullopt;
    }
    return total;
}

}  // namespace

connection::connection(tcp::socket socket, connection_info info, const connection_options& options,
                       request_handler& handler, std::shared_ptr<asio::ssl::context> tls,
                       std::shared_ptr<const security::ssl_principal_mapper> principal_mapper)
    : _executor(socket.get_executor()),
      _socket(std::move(socket)),
      _tls_context(std::move(tls)),
      _principal_mapper(std::move(principal_mapper)),
      _info(std::move(info)),
      _options(options),
      _handler(handler),
      _read_buffer(read_buffer_size),
      _throttle_timer(_executor),
      _reader_wakeup(_executor),
      _writer_wakeup(_executor),
      _tasks(_executor) {
    // sendfile(2) is called directly on the descriptor and must not block the
    // network thread; EAGAIN is met with a wait for writability.
    boost::system::error_code ignored;
    _socket.native_non_blocking(true, ignored);
    if (_tls_context) {
        _tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(_socket, *_tls_context);
        _info.zero_copy_allowed = false;
        _info.tls = true;
    }
}

connection::~connection() = default;

asio::awaitable<void> connection::run() {
    auto self = shared_from_this();
    logger()->debug("connection {} from {} on {}: open", _info.id, _info.remote, _info.listener);
    _tasks.add();
    asio::co_spawn(_executor, write_loop(), [self](std::exception_ptr e) {
        if (e) {
            logger()->error("connection {} from {}: write loop failed: {}", self->_info.id, self->_info.remote,
                            describe(e));
            self->close();
        }
        self->_tasks.done();
    });
    try {
        if (!_tls || co_await tls_handshake()) co_await read_loop();
    } catch (const std::exception& e) {
        logger()->error("connection {} from {}: read loop failed: {}", _info.id, _info.remote, e.what());
        close();
    }
    // No more requests: the write loop ends once the last answer is written
    // (or at once if closed), and the request coroutines end when their
    // handlers return.
    _reading_done = true;
    _writer_wakeup.notify_all();
    co_await _tasks.wait();
    close();
    _handler.connection_closed(_info);
    logger()->debug("connection {} from {}: closed", _info.id, _info.remote);
}

void connection::close() {
    if (_closed) return;
    _closed = true;
    boost::system::error_code ignored;
    _socket.shutdown(tcp::socket::shutdown_both, ignored);
    _socket.close(ignored);
    if (_budget_wait) _budget_wait->cancel();
    _throttle_timer.cancel();
    _reader_wakeup.notify_all();
    _writer_wakeup.notify_all();
}

bool connection::at_in_flight_bound() const {
    if (_in_flight.empty()) return false;
    return _in_flight.size() >= _options.max_in_flight_requests ||
           _in_flight_bytes >= _options.max_in_flight_bytes;
}

void connection::log_io_error(const char* what, const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || _closed) return;  // we closed it
    if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe) {
        logger()->debug("connection {} from {}: {}: {}", _info.id, _info.remote, what, ec.message());
    } else {
        logger()->info("connection {} from {}: {} failed: {}", _info.id, _info.remote, what, ec.message());
    }
}

// ---- transport ----

// The TLS handshake, then on an SSL listener (no SASL) the principal from
// the client's verified certificate, as Kafka's DefaultKafkaPrincipalBuilder:
// User:<subject in RFC 2253, through ssl.principal.mapping.rules>, or
// User:ANONYMOUS without one. A subject no rule applies to fails the
// connection, as Kafka's NoMatchingRule fails its authentication.
asio::awaitable<bool> connection::tls_handshake() {
    boost::system::error_code ec;
    co_await _tls->async_handshake(asio::ssl::stream_base::server, redirect_error(use_awaitable, ec));
    if (ec) {
        if (!_closed) {
            logger()->info("connection {} from {} on {}: TLS handshake failed: {}", _info.id, _info.remote,
                           _info.listener, ec.message());
        }
        close();
        co_return false;
    }
    if (!_info.sasl) {
        if (auto subject = peer_certificate_subject(_tls->native_handle())) {
            auto name = _principal_mapper ? _principal_mapper->map(*subject) : subject;
            if (!name) {
                logger()->info("connection {} from {} on {}: authentication failed: no ssl.principal.mapping.rules "
                               "rule applies to the certificate subject {}",
                               _info.id, _info.remote, _info.listener, *subject);
                close();
                co_return false;
            }
            _info.principal.name = std::move(*name);
        }
    }
    logger()->debug("connection {} from {}: TLS established ({}), principal {}", _info.id, _info.remote,
                    SSL_get_version(_tls->native_handle()), _info.principal.to_string());
    co_return true;
}

asio::awaitable<size_t> connection::read_some(asio::mutable_buffer buffer, boost::system::error_code& ec) {
    if (_tls) co_return co_await _tls->async_read_some(buffer, redirect_error(use_awaitable, ec));
    co_return co_await _socket.async_read_some(buffer, redirect_error(use_awaitable, ec));
}

asio::awaitable<void> connection::write_all(const std::vector<asio::const_buffer>& buffers,
                                            boost::system::error_code& ec) {
    if (!_tls) {
        co_await asio::async_write(_socket, buffers, redirect_error(use_awaitable, ec));
        co_return;
    }
    // An SSL stream writes one buffer per record: coalesce the gather list so
    // that small responses share records (and system calls).
    if (buffers.size() == 1) {
        co_await asio::async_write(*_tls, buffers.front(), redirect_error(use_awaitable, ec));
        co_return;
    }
    _tls_out.clear();
    for (const auto& b : buffers) {
        const auto* p = static_cast<const uint8_t*>(b.data());
        _tls_out.insert(_tls_out.end(), p, p + b.size());
    }
    co_await asio::async_write(*_tls, asio::buffer(_tls_out), redirect_error(use_awaitable, ec));
    if (_tls_out.capacity() > copy_chunk_size) std::vector<uint8_t>().swap(_tls_out);
}

// ---- reading ----

asio::awaitable<void> connection::read_loop() {
    for (;;) {
        // Backpressure: while at the bound, the socket is not read, so the
        // peer's sends stall once the kernel buffers fill.
        // While authenticating, one request at a time (Kafka mutes the
        // channel): the next frame is read, and sized, only once the
        // previous answer is out and the SASL state it set is known.
        // Likewise once a client has been throttled (Kafka mutes every
        // channel while a request is in flight): the next request is read
        // only once this one's throttle is known, else a pipelining producer
        // gets a socketful of requests past each throttle.
        while (!_closed && (at_in_flight_bound() || ((unauthenticated() || _one_at_a_time) && !_in_flight.empty())))
            co_await _reader_wakeup.wait();
        // A throttled client's channel is muted (KIP-219): its next request
        // stays in the socket until the throttle time has passed.
        co_await wait_out_throttle();
        if (_closed) co_return;
        if (!co_await fill(4)) {
            // A peer that shuts down its sending side between frames still
            // gets the answers to the requests it sent; anything else ends
            // the connection now.
            if (!_peer_finished_sending || _read_end != _read_begin) close();
            co_return;
        }
        const auto size = static_cast<int32_t>(load_be32(&_read_buffer[_read_begin]));
        _read_begin += 4;
        const bool before_authentication = unauthenticated();
        const int32_t limit =
            before_authentication ? _options.max_unauthenticated_request_bytes : _options.max_request_bytes;
        if (size < 0 || size > limit) {
            // Kafka's answer to an impossible size (InvalidReceiveException):
            // close, having allocated nothing for it.
            logger()->warn("closing connection {} from {} on {}: invalid request size {} (must be 0 to {} = {})",
                           _info.id, _info.remote, _info.listener, size,
                           before_authentication ? "sasl.server.max.receive.size" : "socket.request.max.bytes",
                           limit);
            close();
            co_return;
        }
        // The broker-wide budget first: until the frame's bytes are reserved,
        // its body is neither read nor allocated, and this peer waits.
        const auto reserved = co_await _options.budget->reserve(static_cast<size_t>(size), _budget_wait);
        if (reserved == request_budget::outcome::cancelled) co_return;
        if (reserved == request_budget::outcome::reserved_after_waiting) {
            logger()->debug("connection {} from {}: waited for request memory (queued.max.request.bytes = {})",
                            _info.id, _info.remote, _options.budget->limit());
        }
        if (_closed) {
            _options.budget->release(static_cast<size_t>(size));
            co_return;
        }
        auto frame = co_await read_frame(static_cast<size_t>(size));
        if (!frame) {
            close();
            co_return;
        }
        // The throttle may have been set while this frame was awaited (the
        // answer to the previous request came after the wait above): Kafka
        // would not have read it yet, so it is not handled before then.
        co_await wait_out_throttle();
        if (_closed) co_return;
        start_request(std::move(frame));
    }
}

asio::awaitable<void> connection::wait_out_throttle() {
    while (!_closed && std::chrono::steady_clock::now() < _throttled_until) {
        _throttle_timer.expires_at(_throttled_until);
        boost::system::error_code ignored;
        co_await _throttle_timer.async_wait(redirect_error(use_awaitable, ignored));
    }
}

// Makes at least n (<= read_buffer_size) bytes available in the read buffer.
// False if the peer finished sending, the read failed, or we closed.
asio::awaitable<bool> connection::fill(size_t n) {
    if (_read_end - _read_begin >= n) co_return true;
    if (_read_begin > 0) {
        std::memmove(_read_buffer.data(), _read_buffer.data() + _read_begin, _read_end - _read_begin);
        _read_end -= _read_begin;
        _read_begin = 0;
    }
    while (_read_end - _read_begin < n) {
        if (_closed) co_return false;
        boost::system::error_code ec;
        const size_t got =
            co_await read_some(asio::buffer(_read_buffer.data() + _read_end, _read_buffer.size() - _read_end), ec);
        if (ec) {
            if (ec == asio::error::eof) _peer_finished_sending = true;
            log_io_error("read", ec);
            co_return false;
        }
        _read_end += got;
    }
    co_return true;
}

// Reads a frame of `size` bytes (already checked against the maximum).
// nullptr if the connection ended first. The frame holds the budget's
// reservation of `size` bytes until it is freed.
//
// With the broker-wide budget on (queued.max.request.bytes, on by default)
// the whole size is already reserved against it, so the buffer's capacity is
// taken at once: address space that the budget bounds, whose pages are
// touched only as the bytes arrive (the buffer grows its size, not its
// capacity, with what is received). Growing the capacity by doubling instead
// copied every produced byte once more (std::vector's relocation: 8% of the
// broker's CPU under an acks=1 produce load). With the budget off, the
// capacity grows with the bytes received, at most doubling each time, so that
// a size prefix alone never makes us allocate what it claims (DESIGN.md,
// "bad input costs nothing").
asio::awaitable<std::shared_ptr<std::vector<uint8_t>>> connection::read_frame(size_t size) {
    auto frame = _options.budget->make_frame(size);
    const size_t buffered = std::min(size, _read_end - _read_begin);
    const bool budgeted = _options.budget->limit() > 0;
    frame->reserve(buffered == size || budgeted ? size : std::min(size, std::max(buffered, min_frame_growth)));
    const auto buffered_begin = _read_buffer.begin() + static_cast<std::ptrdiff_t>(_read_begin);
    frame->assign(buffered_begin, buffered_begin + static_cast<std::ptrdiff_t>(buffered));
    _read_begin += buffered;

    // `filled` bytes are received; the frame's size may run ahead of it with
    // zero-filled room for the next reads, grown geometrically and only once
    // the room is used up, so that each byte is zero-filled once. Shrinking
    // the size back after every read had the next resize fill the same room
    // again: a TLS stream hands over one record (16 KiB) per read, and that
    // re-zeroing was 20% of a TLS producer's broker CPU.
    size_t filled = frame->size();
    while (filled < size) {
        const size_t missing = size - filled;
        if (missing <= read_buffer_size / 2) {
            // A short tail goes through the read buffer, which then also
            // picks up the pipelined requests that follow, in the same read.
            if (!co_await fill(missing)) co_return nullptr;
            frame->resize(filled);
            if (frame->capacity() < size) frame->reserve(size);
            const auto tail = _read_buffer.begin() + static_cast<std::ptrdiff_t>(_read_begin);
            frame->insert(frame->end(), tail, tail + static_cast<std::ptrdiff_t>(missing));
            _read_begin += missing;
            filled = size;
            break;
        }
        if (frame->size() == filled) {
            const size_t target = std::min(size, std::max(filled * 2, filled + min_frame_growth));
            if (frame->capacity() < target) frame->reserve(target);  // exactly target
            frame->resize(target);
        }
        boost::system::error_code ec;
        const size_t got = co_await read_some(asio::buffer(frame->data() + filled, frame->size() - filled), ec);
        if (ec) {
            log_io_error("read", ec);
            co_return nullptr;
        }
        filled += got;
    }
    frame->resize(filled);
    co_return frame;
}

void connection::start_request(std::shared_ptr<std::vector<uint8_t>> frame) {
    auto request = std::make_shared<slot>();
    request->frame_size = frame->size();
    request->received = std::chrono::steady_clock::now();
    _in_flight.push_back(request);
    _in_flight_bytes += request->frame_size;
    _tasks.add();
    // co_spawn begins the coroutine with a post to this connection's
    // executor, and an io_context run by one thread runs posts in order: so
    // handlers start in arrival order, each running until its first
    // suspension before the next starts (the contract in request_handler.h).
    asio::co_spawn(_executor, handle_request(std::move(request), std::move(frame)),
                   [self = shared_from_this()](std::exception_ptr) { self->_tasks.done(); });
}

asio::awaitable<void> connection::handle_request(std::shared_ptr<slot> request,
                                                 std::shared_ptr<const std::vector<uint8_t>> frame) {
    try {
        request->result = co_await _handler.handle(_info, std::move(frame));
        request->result.timing.received = request->received;
        request->result.timing.answered = std::chrono::steady_clock::now();
        if (request->result.throttle_ms > 0) {
            _one_at_a_time = true;
            _throttled_until = std::max(_throttled_until, std::chrono::steady_clock::now() +
                                                              std::chrono::milliseconds(request->result.throttle_ms));
        }
    } catch (const std::exception& e) {
        if (!_closed) {
            logger()->warn("closing connection {} from {}: request failed: {}", _info.id, _info.remote, e.what());
        }
        close();
        co_return;
    } catch (...) {
        if (!_closed) {
            logger()->warn("closing connection {} from {}: request failed with an unknown exception", _info.id,
                           _info.remote);
        }
        close();
        co_return;
    }
    request->done = true;
    _writer_wakeup.notify_all();
}

// ---- writing ----

asio::awaitable<void> connection::write_loop() {
    auto self = shared_from_this();
    for (;;) {
        while (!_closed && (_in_flight.empty() || !_in_flight.front()->done)) {
            if (_in_flight.empty() && _reading_done) co_return;
            co_await _writer_wakeup.wait();
        }
        if (_closed) co_return;
        if (!co_await write_ready_responses()) {
            close();
            co_return;
        }
    }
}

// Writes the answered requests at the head of the queue, as few system calls
// as it takes: the size prefixes and bodies of consecutive responses go out
// in one gather write, interrupted only where a file region is sent.
asio::awaitable<bool> connection::write_ready_responses() {
    std::vector<asio::const_buffer> gather;
    size_t count = 0;
    bool close_after = false;
    // The responses of one batch share their send: it begins now and ends
    // when the last of them is written.
    const auto send_started = std::chrono::steady_clock::now();
    // Indexes, not iterators: the read loop may push_back meanwhile.
    while (count < _in_flight.size() && count < max_batch_responses && _in_flight[count]->done) {
        auto request = _in_flight[count];
        ++count;
        if (request->result.response && !co_await write_response(*request, gather)) co_return false;
        if (request->result.close_connection) {
            close_after = true;
            break;
        }
    }
    if (!co_await flush(gather)) co_return false;
    const auto sent = std::chrono::steady_clock::now();
    for (size_t i = 0; i < count; ++i) {
        auto& request = *_in_flight.front();
        auto& timing = request.result.timing;
        if (timing.api_key >= 0) {
            // A request without a response (acks=0) is done when answered.
            timing.send_started = request.result.response ? send_started : timing.answered;
            timing.sent = request.result.response ? sent : timing.answered;
            _handler.request_completed(_info, request.result);
        }
        _in_flight_bytes -= request.frame_size;
        _in_flight.pop_front();
    }
    _reader_wakeup.notify_all();
    if (close_after) {
        logger()->debug("connection {} from {}: closing as the handler asked", _info.id, _info.remote);
        close();
    }
    co_return true;
}

// Appends one response to `gather`; a file region in it first flushes what
// is gathered, then is sent on its own.
asio::awaitable<bool> connection::write_response(slot& request, std::vector<asio::const_buffer>& gather) {
    const protocol::encoded_output& out = *request.result.response;
    std::string problem;
    const auto total = checked_total_size(out, problem);
    if (!total) {
        logger()->error("closing connection {} from {}: cannot send response: {}", _info.id, _info.remote, problem);
        co_return false;
    }
    store_be32(request.size_prefix.data(), static_cast<uint32_t>(*total));
    gather.push_back(asio::buffer(request.size_prefix));
    size_t position = 0;
    for (const auto& insert : out.file_inserts) {
        if (insert.at > position) gather.push_back(asio::buffer(out.bytes.data() + position, insert.at - position));
        position = insert.at;
        if (insert.region.length == 0) continue;
        if (!co_await flush(gather)) co_return false;
        if (!co_await send_file_region(insert.region)) co_return false;
    }
    if (out.bytes.size() > position) {
        gather.push_back(asio::buffer(out.bytes.data() + position, out.bytes.size() - position));
    }
    if (gather.size() >= max_gather_buffers && !co_await flush(gather)) co_return false;
    co_return true;
}

asio::awaitable<bool> connection::flush(std::vector<asio::const_buffer>& gather) {
    if (gather.empty()) co_return true;
    if (_closed) co_return false;
    boost::system::error_code ec;
    co_await write_all(gather, ec);
    gather.clear();
    if (ec) {
        log_io_error("write", ec);
        co_return false;
    }
    co_return true;
}

asio::awaitable<bool> connection::send_file_region(const protocol::file_region& region) {
    if (_info.zero_copy_allowed && !_tls) co_return co_await sendfile_region(region);
    co_return co_await copy_file_region(region);
}

asio::awaitable<bool> connection::sendfile_region(const protocol::file_region& region) {
    auto offset = static_cast<off_t>(region.position);
    size_t remaining = region.length;
    while (remaining > 0) {
        if (_closed) co_return false;
        const ssize_t sent = ::sendfile(_socket.native_handle(), region.fd, &offset, remaining);
        if (sent > 0) {
            remaining -= static_cast<size_t>(sent);
            continue;
        }
        if (sent == 0) {
            logger()->error("closing connection {} from {}: file region (fd {}, position {}, length {}) ends early",
                            _info.id, _info.remote, region.fd, region.position, region.length);
            co_return false;
        }
        const int error = errno;
        if (error == EINTR) continue;
        if (error == EAGAIN || error == EWOULDBLOCK) {
            boost::system::error_code ec;
            co_await _socket.async_wait(tcp::socket::wait_write, redirect_error(use_awaitable, ec));
            if (ec) {
                log_io_error("wait for writability", ec);
                co_return false;
            }
            continue;
        }
        if (error == EINVAL || error == ENOSYS) {
            // A descriptor sendfile cannot read from: copy the rest instead.
            protocol::file_region rest = region;
            rest.position = static_cast<uint64_t>(offset);
            rest.length = static_cast<uint32_t>(remaining);
            co_return co_await copy_file_region(rest);
        }
        log_io_error("sendfile", boost::system::error_code(error, boost::system::system_category()));
        co_return false;
    }
    co_return true;
}

// Without zero-copy, the region passes through user space. pread runs on the
// network thread: the bytes are normally in the page cache (recently
// written or prefetched by sequential reads), and each call is bounded by
// copy_chunk_size.
asio::awaitable<bool> connection::copy_file_region(const protocol::file_region& region) {
    std::vector<uint8_t> chunk(std::min<size_t>(region.length, copy_chunk_size));
    uint64_t position = region.position;
    size_t remaining = region.length;
    while (remaining > 0) {
        if (_closed) co_return false;
        const ssize_t got = ::pread(region.fd, chunk.data(), std::min(remaining, chunk.size()),
                                    static_cast<off_t>(position));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            logger()->error("closing connection {} from {}: reading file region (fd {}, position {}, length {}): {}",
                            _info.id, _info.remote, region.fd, region.position, region.length,
                            got == 0 ? "ends early" : std::strerror(errno));
            co_return false;
        }
        boost::system::error_code ec;
        const std::vector<asio::const_buffer> piece{asio::const_buffer(chunk.data(), static_cast<size_t>(got))};
        co_await write_all(piece, ec);
        if (ec) {
            log_io_error("write", ec);
            co_return false;
        }
        position += static_cast<uint64_t>(got);
        remaining -= static_cast<size_t>(got);
    }
    co_return true;
}

}  // namespace strata::net::detail
