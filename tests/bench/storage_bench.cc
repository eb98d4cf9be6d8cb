// Storage benchmark: the figures in docs/benchmarks.md ("## Storage"), run by
// tests/bench/storage_bench.sh beside dd on the same file system.
//
//   storage_bench <dir> <mib>
//
// Prints one line per figure: name, MiB moved, seconds, MB/s.
//   append_nosync     1 MiB batches (1024 records of 1 KiB), page cache only
//   groupsync_wN      the same, each append awaited durable (flush_to), with
//                     up to N appends in flight sharing fdatasyncs (N producers
//                     of 1 MiB batches: N = 8, 16, 64)
//   sendfile_socket   reads as file regions sent with sendfile(2) into a
//                     loopback TCP socket drained by another thread
//   sendfile_devnull  the same regions sent to /dev/null (the kernel path alone)
//   recovery_scan     an unclean open of the whole log (CRC of every batch)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "strata/protocol/record_batch.h"
#include "strata/storage/log_manager.h"

using namespace strata;
using namespace strata::storage;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

namespace {

double seconds_since(steady::time_point start) {
    return std::chrono::duration<double>(steady::now() - start).count();
}

void report(const char* name, double bytes, double secs) {
    std::printf("%-18s %8.0f MiB %8.3f s %10.1f MB/s\n", name, bytes / (1 << 20), secs, bytes / secs / 1e6);
    std::fflush(stdout);
}

std::vector<uint8_t> megabyte_batch() {
    protocol::record_batch_builder builder;
    std::vector<uint8_t> value(1000, 'v');
    // Current timestamps: old ones would make retention.ms and segment.ms fire.
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    for (int i = 0; i < 1024; ++i) {
        std::string key = "key-" + std::to_string(i);
        builder.append(now, protocol::bytes_view(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                       protocol::bytes_view(value));
    }
    return builder.build().value();
}

log_config bench_config() {
    log_config c;
    c.max_message_bytes = 2 << 20;
    c.segment_bytes = 256 << 20;
    return c;
}

std::unique_ptr<log_manager> open_manager(const std::string& dir) {
    log_manager_config config;
    config.data_dir = dir;
    return std::move(log_manager::open(config).value());
}

void append_nosync(const std::string& dir, int mib, const std::vector<uint8_t>& batch) {
    auto m = open_manager(dir);
    auto log = m->get_or_create({"nosync", partition_id(0)}, bench_config()).value();
    auto start = steady::now();
    for (int i = 0; i < mib; ++i) log->append(batch, leader_epoch(0)).value();
    report("append_nosync", double(batch.size()) * mib, seconds_since(start));
}

void append_groupsync(const std::string& dir, int mib, const std::vector<uint8_t>& batch, int window) {
    auto m = open_manager(dir);
    auto log = m->get_or_create({"sync" + std::to_string(window), partition_id(0)}, bench_config()).value();
    std::mutex mutex;
    std::condition_variable cv;
    int in_flight = 0;
    auto start = steady::now();
    for (int i = 0; i < mib; ++i) {
        {
            std::unique_lock lock(mutex);
            cv.wait(lock, [&] { return in_flight < window; });
            ++in_flight;
        }
        auto r = log->append(batch, leader_epoch(0)).value();
        log->flush_to(r.last_offset.next(), [&](result<void> status) {
            status.value();
            std::lock_guard lock(mutex);
            --in_flight;
            cv.notify_all();
        });
    }
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return in_flight == 0; });
    std::string name = "groupsync_w" + std::to_string(window);
    report(name.c_str(), double(batch.size()) * mib, seconds_since(start));
}

// Reads the whole "nosync" log as regions of up to 1 MiB, as fetches would.
template <typename Send>
double read_regions(partition_log& log, Send&& send) {
    double bytes = 0;
    offset next = log.log_start_offset();
    while (next < log.end_offset()) {
        auto r = log.read({next, 1 << 20, std::nullopt, true}).value();
        send(r.region);
        bytes += r.region.length;
        // max_bytes is below one batch, so each region is exactly one batch.
        uint8_t header[protocol::record_batch_view::header_size];
        if (::pread(r.region.fd, header, sizeof header, off_t(r.region.position)) != ssize_t(sizeof header)) std::abort();
        int64_t base = 0;
        for (int i = 0; i < 8; ++i) base = (base << 8) | header[i];
        int32_t last_delta = int32_t((uint32_t(header[23]) << 24) | (uint32_t(header[24]) << 16) |
                                     (uint32_t(header[25]) << 8) | header[26]);
        next = offset(base + last_delta + 1);
    }
    return bytes;
}

void sendfile_all(int out_fd, const protocol::file_region& region) {
    off_t position = off_t(region.position);
    size_t left = region.length;
    while (left > 0) {
        ssize_t n = ::sendfile(out_fd, region.fd, &position, left);
        if (n <= 0) std::abort();
        left -= size_t(n);
    }
}

void sendfile_reads(const std::string& dir) {
    auto m = open_manager(dir);
    auto log = m->get_or_create({"nosync", partition_id(0)}, bench_config()).value();
    // Warm the page cache (the data was just written; make sure).
    read_regions(*log, [](const protocol::file_region&) {});

    int null_fd = ::open("/dev/null", O_WRONLY);
    auto start = steady::now();
    double bytes = read_regions(*log, [&](const protocol::file_region& r) { sendfile_all(null_fd, r); });
    report("sendfile_devnull", bytes, seconds_since(start));
    ::close(null_fd);

    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 1) != 0) std::abort();
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    std::thread receiver([&] {
        int c = ::accept(listener, nullptr, nullptr);
        std::vector<char> buf(1 << 20);
        while (::recv(c, buf.data(), buf.size(), 0) > 0) {
        }
        ::close(c);
    });
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
    start = steady::now();
    bytes = read_regions(*log, [&](const protocol::file_region& r) { sendfile_all(s, r); });
    ::shutdown(s, SHUT_WR);
    receiver.join();
    report("sendfile_socket", bytes, seconds_since(start));
    ::close(s);
    ::close(listener);
}

void recovery_scan(const std::string& dir) {
    // Unclean: no marker and no recovery point, so every segment is scanned.
    fs::remove(dir + "/.strata_clean_shutdown");
    fs::remove_all(dir + "/.state");
    double bytes = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir + "/nosync-0"))
        if (e.path().extension() == ".log") bytes += double(fs::file_size(e.path()));
    auto m = open_manager(dir);
    auto start = steady::now();
    auto log = m->get_or_create({"nosync", partition_id(0)}, bench_config()).value();
    report("recovery_scan", bytes, seconds_since(start));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <dir> <mib>\n", argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    int mib = std::stoi(argv[2]);
    fs::remove_all(dir);
    auto batch = megabyte_batch();
    // Each phase starts with no dirty pages left by the one before (the
    // script does the same before each dd), so none pays for another's writeback.
    ::sync();
    append_nosync(dir, mib, batch);
    ::sync();
    append_groupsync(dir, mib, batch, 8);
    ::sync();
    append_groupsync(dir, mib, batch, 16);
    ::sync();
    append_groupsync(dir, mib, batch, 64);
    ::sync();
    sendfile_reads(dir);
    recovery_scan(dir);
    fs::remove_all(dir);
    return 0;
}
