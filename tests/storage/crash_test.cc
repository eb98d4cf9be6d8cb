// Crash test for the storage engine (fault tier): runs storage_crash_writer,
// kills it with SIGKILL at a random moment mid-append, then opens the data
// directory as the broker would after an unclean shutdown and checks that
//   - every offset the writer was told is durable is still there,
//   - every batch served has a valid CRC and consecutive offsets,
//   - every record is one the writer wrote (its value matches its key).
// Every third round it also damages the log past the durable offset (garbage
// at a random position, or a cut), as a torn write would, and checks the same.
//
//   storage_crash_test <writer> [--rounds N] [--seed S] [--dir D]
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "crash_records.h"
#include "strata/protocol/record_batch.h"
#include "strata/storage/log_manager.h"

using namespace strata;
using namespace strata::storage;
namespace fs = std::filesystem;

namespace {

struct writer_outcome {
    int64_t durable = -1;
    int64_t start_end = -1;
};

std::string read_available(int fd, int timeout_ms) {
    std::string out;
    char buf[4096];
    for (;;) {
        struct pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) break;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, size_t(n));
        timeout_ms = 0;
    }
    return out;
}

void parse_lines(const std::string& text, writer_outcome& out) {
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) break;  // a torn last line is not a promise
        std::string line = text.substr(pos, nl - pos);
        if (line.rfind("durable ", 0) == 0) out.durable = std::max<int64_t>(out.durable, std::stoll(line.substr(8)));
        if (line.rfind("ready ", 0) == 0) out.start_end = std::stoll(line.substr(6));
        pos = nl + 1;
    }
}

// Starts the writer, lets it run for `run_ms` after it is ready, kills it.
writer_outcome run_and_kill(const std::string& writer, const std::string& dir, int run, int run_ms) {
    int pipefd[2];
    if (::pipe(pipefd) != 0) std::abort();
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(pipefd[1], 1);
        ::close(pipefd[0]);
        ::close(pipefd[1]);
        std::string r = std::to_string(run);
        ::execl(writer.c_str(), writer.c_str(), dir.c_str(), r.c_str(), nullptr);
        ::_exit(127);
    }
    ::close(pipefd[1]);
    writer_outcome out;
    std::string text;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (out.start_end < 0 && std::chrono::steady_clock::now() < deadline) {
        text += read_available(pipefd[0], 100);
        parse_lines(text, out);
    }
    auto kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
    while (std::chrono::steady_clock::now() < kill_at) {
        text += read_available(pipefd[0], 1);
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    text += read_available(pipefd[0], 0);
    ::close(pipefd[0]);
    parse_lines(text, out);
    if (!WIFSIGNALED(status)) {
        std::fprintf(stderr, "writer exited on its own (status %d)\n", status);
        std::exit(1);
    }
    return out;
}

// The recovery point the killed writer left in the state store (it may be
// past the last durable offset the writer printed before the kill).
int64_t stored_recovery_point(const std::string& dir) {
    auto store = open_rocksdb_state_store(dir + "/.state");
    if (!store) return -1;
    auto value = store.value()->get("storage/crash-0/checkpoints");
    if (!value || !value.value() || value.value()->size() != 33) return -1;
    const auto* p = reinterpret_cast<const uint8_t*>(value.value()->data()) + 9;  // version, log start
    int64_t rp = 0;
    for (int i = 0; i < 8; ++i) rp = (rp << 8) | p[i];
    return rp;
}

// Damages the log the way a crash can: garbage or a cut at a random position
// past both the recovery point and the last offset the writer was told is
// durable (what was flushed is trusted below the recovery point, as in
// Kafka; damage anywhere is covered by recovery_test, which scans from offset
// 0). Returns whether anything was damaged.
bool damage(const std::string& dir, int64_t durable, std::mt19937_64& rng) {
    durable = std::max(durable, stored_recovery_point(dir));
    std::vector<fs::path> logs;
    for (const auto& e : fs::directory_iterator(dir + "/crash-0"))
        if (e.path().extension() == ".log") logs.push_back(e.path());
    std::sort(logs.begin(), logs.end());
    struct candidate {
        fs::path file;
        uint64_t from, size;
    };
    std::vector<candidate> candidates;
    for (const auto& path : logs) {
        int fd = ::open(path.c_str(), O_RDONLY);
        uint64_t size = fs::file_size(path), pos = 0;
        // The first batch that ends at or past `durable` may be damaged.
        while (pos + 61 <= size) {
            uint8_t h[61];
            if (::pread(fd, h, sizeof h, off_t(pos)) != ssize_t(sizeof h)) break;
            int64_t base = 0;
            for (int i = 0; i < 8; ++i) base = (base << 8) | h[i];
            uint32_t length = (uint32_t(h[8]) << 24) | (uint32_t(h[9]) << 16) | (uint32_t(h[10]) << 8) | h[11];
            int32_t delta = int32_t((uint32_t(h[23]) << 24) | (uint32_t(h[24]) << 16) | (uint32_t(h[25]) << 8) | h[26]);
            if (base + delta >= durable) break;
            pos += 12 + length;
        }
        ::close(fd);
        if (pos < size) candidates.push_back({path, pos, size});
    }
    if (candidates.empty()) return false;
    const auto& victim = candidates[rng() % candidates.size()];
    uint64_t at = victim.from + rng() % (victim.size - victim.from);
    if (rng() % 2) {
        fs::resize_file(victim.file, at);
    } else {
        int fd = ::open(victim.file.c_str(), O_WRONLY);
        std::vector<uint8_t> garbage(1 + rng() % 256);
        for (auto& g : garbage) g = uint8_t(rng());
        if (::pwrite(fd, garbage.data(), garbage.size(), off_t(at)) < 0) std::abort();
        ::close(fd);
    }
    return true;
}

bool check(const std::string& dir, const writer_outcome& w, int round) {
    log_manager_config config;
    config.data_dir = dir;
    config.start_threads = false;
    auto manager = log_manager::open(config);
    if (!manager) {
        std::fprintf(stderr, "round %d: open failed: %s\n", round, to_string(manager.error()).c_str());
        return false;
    }
    if (manager.value()->was_clean_shutdown()) {
        std::fprintf(stderr, "round %d: a killed writer left a clean-shutdown marker\n", round);
        return false;
    }
    log_config lc;
    lc.segment_bytes = 256 << 10;
    lc.index_interval_bytes = 1024;
    lc.retention_bytes = 3 << 20;
    auto log = manager.value()->get_or_create({"crash", partition_id(0)}, lc).value();
    int64_t end = log->end_offset().value();
    int64_t promised = w.durable;
    if (end < promised) {
        std::fprintf(stderr, "round %d: log end %lld below the durable offset %lld\n", round, (long long)end,
                     (long long)promised);
        return false;
    }
    offset next = log->log_start_offset();
    int64_t batches = 0;
    std::vector<uint8_t> scratch;
    while (next < log->end_offset()) {
        auto r = log->read({next, 1 << 20, std::nullopt, true});
        if (!r) {
            std::fprintf(stderr, "round %d: read at %lld: %s\n", round, (long long)next.value(), to_string(r.error()).c_str());
            return false;
        }
        auto bytes = read_region(r.value().region).value();
        protocol::record_batch_sequence seq(bytes);
        size_t whole = 0;
        for (;;) {
            auto b = seq.next();
            if (!b || !b.value()) break;
            const auto& batch = *b.value();
            if (!batch.crc_ok() || batch.base_offset() != next.value()) {
                std::fprintf(stderr, "round %d: bad batch at %lld\n", round, (long long)next.value());
                return false;
            }
            bool records_ok = true;
            auto walked = protocol::for_each_record(batch, 64 << 20, scratch, [&](const protocol::record_view& rec) {
                std::string key(rec.key->begin(), rec.key->end());
                std::string value(rec.value->begin(), rec.value->end());
                records_ok &= value == crash::value_for(key, value.size());
            });
            if (!walked || !records_ok) {
                std::fprintf(stderr, "round %d: records of batch %lld do not match\n", round, (long long)next.value());
                return false;
            }
            next = offset(batch.last_offset() + 1);
            whole = seq.consumed();
            ++batches;
        }
        if (whole == 0) {
            std::fprintf(stderr, "round %d: no whole batch at %lld\n", round, (long long)next.value());
            return false;
        }
    }
    // The manager shuts down cleanly here, so every writer starts from a
    // clean-shutdown marker and every check from a killed writer.
    return bool(manager.value()->shutdown());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s <writer> [--rounds N] [--seed S] [--dir D]\n", argv[0]);
        return 2;
    }
    std::string writer = argv[1];
    int rounds = 120;
    uint64_t seed = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
    std::string dir;
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string flag = argv[i];
        if (flag == "--rounds") rounds = std::stoi(argv[i + 1]);
        else if (flag == "--seed") seed = std::stoull(argv[i + 1]);
        else if (flag == "--dir") dir = argv[i + 1];
    }
    if (dir.empty()) {
        std::string pattern = (fs::temp_directory_path() / "strata-crash-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) return 1;
        dir = pattern;
    }
    std::printf("storage crash test: %d rounds, seed %llu, dir %s\n", rounds, (unsigned long long)seed, dir.c_str());
    std::mt19937_64 rng(seed);
    int64_t max_durable = -1;
    int damaged = 0;
    for (int round = 0; round < rounds; ++round) {
        auto w = run_and_kill(writer, dir, round, 5 + int(rng() % 60));
        max_durable = std::max(max_durable, w.durable);
        if (round % 3 == 2) damaged += damage(dir, w.durable, rng) ? 1 : 0;
        if (!check(dir, w, round)) {
            std::fprintf(stderr, "FAILED (seed %llu, dir kept: %s)\n", (unsigned long long)seed, dir.c_str());
            return 1;
        }
    }
    std::printf("ok: %d kills, %d of them followed by damage past the durable offset; last durable offset %lld\n",
                rounds, damaged, (long long)max_durable);
    fs::remove_all(dir);
    return 0;
}
