// Responses with file regions: sent with sendfile(2) where the listener
// allows zero-copy, copied through user space otherwise; the bytes on the
// wire are the same either way.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "net_test_support.h"
#include "strata/net/server.h"

namespace strata::net {
namespace {

using namespace testing;
using boost::asio::awaitable;
using frame_ptr = std::shared_ptr<const std::vector<uint8_t>>;

// A temporary file of `size` patterned bytes, removed on destruction.
class temp_file {
public:
    explicit temp_file(size_t size) {
        char path[] = "/tmp/strata_net_test_XXXXXX";
        _fd = ::mkstemp(path);
        if (_fd < 0) throw std::runtime_error("mkstemp failed");
        ::unlink(path);  // the descriptor keeps it
        _bytes.resize(size);
        for (size_t i = 0; i < size; ++i) _bytes[i] = static_cast<uint8_t>((i * 7 + i / 251) % 256);
        size_t written = 0;
        while (written < size) {
            const ssize_t n = ::write(_fd, _bytes.data() + written, size - written);
            if (n <= 0) throw std::runtime_error("write failed");
            written += static_cast<size_t>(n);
        }
    }
    ~temp_file() { ::close(_fd); }

    int fd() const { return _fd; }
    std::vector<uint8_t> slice(size_t position, size_t length) const {
        return {_bytes.begin() + static_cast<std::ptrdiff_t>(position),
                _bytes.begin() + static_cast<std::ptrdiff_t>(position + length)};
    }

private:
    int _fd = -1;
    std::vector<uint8_t> _bytes;
};

struct piece {
    std::string text;           // bytes before the region
    size_t position = 0;        // the region that follows (length 0: none)
    size_t length = 0;
};

// The response the handler builds from `pieces`, and the bytes a client
// must receive for it.
protocol::encoded_output build(const temp_file& file, const std::vector<piece>& pieces,
                               std::vector<uint8_t>& expected) {
    protocol::encoded_output out;
    for (const auto& p : pieces) {
        out.bytes.insert(out.bytes.end(), p.text.begin(), p.text.end());
        expected.insert(expected.end(), p.text.begin(), p.text.end());
        if (p.length == 0) continue;
        protocol::file_region region{file.fd(), p.position, static_cast<uint32_t>(p.length), nullptr};
        out.file_inserts.push_back({out.bytes.size(), region});
        auto bytes = file.slice(p.position, p.length);
        expected.insert(expected.end(), bytes.begin(), bytes.end());
    }
    return out;
}

class file_regions : public ::testing::TestWithParam<bool> {};

TEST_P(file_regions, are_sent_between_the_bytes_they_follow) {
    const bool zero_copy = GetParam();
    temp_file file(16 * 1024 * 1024);
    // Small and large regions (the large ones fill the socket buffer, so the
    // sender has to wait for the client to read), at the start, in the middle,
    // back to back, and at the end.
    const std::vector<std::vector<piece>> responses = {
        {{"HEAD", 3, 100}, {"TAIL", 0, 0}},
        {{"", 0, 10}, {"between", 5000, 1}, {"", 1, 1}},
        {{"big:", 12345, 12 * 1024 * 1024}, {"after big", 0, 0}},
        {{"", 0, 4096}, {"", 4096, 4096}, {"end", 8 * 1024 * 1024, 3 * 1024 * 1024 + 17}},
    };
    std::vector<std::vector<uint8_t>> expected(responses.size());
    std::vector<protocol::encoded_output> outputs;
    for (size_t i = 0; i < responses.size(); ++i) outputs.push_back(build(file, responses[i], expected[i]));

    function_handler handler([&](const connection_info& info, frame_ptr frame) -> awaitable<handler_result> {
        EXPECT_EQ(info.zero_copy_allowed, zero_copy);
        co_return handler_result{outputs.at(id_of(*frame)), false};
    });
    auto options = loopback_options();
    options.listeners[0].zero_copy = zero_copy;
    server s(options, handler);
    s.start();
    loopback_client client(port_of(s));
    for (uint32_t id = 0; id < responses.size(); ++id) client.send_frame(request(id));
    for (uint32_t id = 0; id < responses.size(); ++id) {
        const auto frame = client.read_frame();
        ASSERT_EQ(frame.size(), expected[id].size()) << "response " << id;
        EXPECT_TRUE(frame == expected[id]) << "response " << id << " differs";
    }
}

TEST_P(file_regions, beyond_the_end_of_the_file_close_the_connection) {
    temp_file file(1000);
    function_handler handler([&](const connection_info&, frame_ptr) -> awaitable<handler_result> {
        protocol::encoded_output out;
        out.bytes = {1, 2, 3};
        out.file_inserts.push_back({3, protocol::file_region{file.fd(), 900, 200, nullptr}});
        co_return handler_result{std::move(out), false};
    });
    auto options = loopback_options();
    options.listeners[0].zero_copy = GetParam();
    server s(options, handler);
    s.start();
    loopback_client client(port_of(s));
    client.send_frame(request(0));
    // The size prefix promised 203 bytes; the client gets fewer, then the end.
    uint8_t received[4 + 203];
    EXPECT_FALSE(client.read_exact(received, sizeof received));
}

INSTANTIATE_TEST_SUITE_P(net, file_regions, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "sendfile" : "copied"; });

}  // namespace
}  // namespace strata::net
