// Cleaner benchmark: one compaction of a log that holds committed and
// aborted transactions (the figures in docs/benchmarks.md, "Log cleaner with
// transactions").
//
//   cleaner_bench <dir> [mib] [runs]
//
// Builds a cleanup.policy=compact log of about <mib> MiB (1 MiB segments) in
// <dir>: 8 transactional producers, each transaction 10 batches of 20
// records (200-byte values over 20,000 keys), one transaction in three
// aborted (its ABORT marker indexed in the .txnindex as the partition does),
// with a non-transactional batch after every transaction. Then cleans it
// once, everything dirty, and prints the log's bytes, the seconds of the
// cleaning and the rate (MB of log per second), once per run on a fresh log.
// The data is in the page cache (just written), so this is the cleaner's CPU
// cost: decoding, the key map, rebuilding batches. `dd` is not the limit here.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "cleaner.h"
#include "flusher.h"
#include "strata/protocol/record_batch.h"
#include "strata/storage/state_store.h"

using namespace strata;
using namespace strata::storage;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

namespace {

protocol::bytes_view view_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

std::vector<uint8_t> data_batch(int64_t producer_id, int32_t sequence, int first_key, bool transactional) {
    protocol::record_batch_options o;
    if (transactional) {
        o.producer_id = producer_id;
        o.producer_epoch = 0;
        o.base_sequence = sequence;
        o.is_transactional = true;
    }
    protocol::record_batch_builder builder(o);
    const std::string value(200, 'v');
    for (int i = 0; i < 20; ++i) {
        std::string key = "key" + std::to_string((first_key + i * 997) % 20'000);
        builder.append(1'700'000'000'000, view_of(key), view_of(value));
    }
    return builder.build().value();
}

std::vector<uint8_t> marker(int64_t producer_id, bool commit) {
    protocol::record_batch_options o;
    o.producer_id = producer_id;
    o.producer_epoch = 0;
    o.is_transactional = true;
    o.is_control = true;
    protocol::record_batch_builder builder(o);
    const std::string key{0, 0, 0, char(commit ? 1 : 0)};
    const std::string value{0, 0, 0, 0, 0, 5};
    builder.append(1'700'000'000'000, view_of(key), view_of(value));
    return builder.build().value();
}

struct built {
    std::shared_ptr<disk_log> log;
    uint64_t bytes = 0;
    int aborted = 0, committed = 0;
};

built build_log(const std::string& dir, size_t mib, state_store& store, flusher& flush, const storage::clock& time) {
    log_config config;
    config.cleanup = cleanup_policy::compact;
    config.segment_bytes = 1 << 20;
    disk_log_context context{&store, &flush, &time};
    auto opened = disk_log::open(dir, topic_partition{"bench", partition_id(0)}, config, context, false);
    if (!opened) throw std::runtime_error("open: " + to_string(opened.error()));
    built out{opened.value()};
    auto& log = *out.log;
    int key = 0;
    std::vector<int32_t> sequence(8, 0);
    for (int txn = 0; log.size_bytes() < mib << 20; ++txn) {
        const int64_t producer = 1000 + txn % 8;
        const int64_t first = log.end_offset().value();
        for (int b = 0; b < 10; ++b, key += 20) {
            (void)log.append(data_batch(producer, sequence[txn % 8], key, true), leader_epoch(0));
            sequence[txn % 8] += 20;
        }
        const bool abort = txn % 3 == 0;
        auto m = log.append(marker(producer, !abort), leader_epoch(0), append_origin::internal).value();
        if (abort) {
            (void)log.append_aborted_txn({producer, first, m.base_offset.value(), m.base_offset.value() + 1});
            ++out.aborted;
        } else {
            ++out.committed;
        }
        (void)log.append(data_batch(-1, 0, key, false), leader_epoch(0));
        key += 20;
    }
    (void)log.roll();
    log.set_high_watermark(log.end_offset());
    // The partition's producer state, as its owner publishes it to the log
    // (no transaction open; the last batches of the 8 producers).
    log.set_first_unstable_offset(offset(INT64_MAX));
    std::vector<producer_last_batch> last;
    for (int p = 0; p < 8; ++p) last.push_back({1000 + p, 0, -1});
    log.set_active_producers(log.end_offset(), last);
    out.bytes = log.size_bytes();
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s <dir> [mib] [runs]\n", argv[0]);
        return 2;
    }
    const std::string root = argv[1];
    const size_t mib = argc > 2 ? std::stoul(argv[2]) : 128;
    const int runs = argc > 3 ? std::stoi(argv[3]) : 3;
    for (int run = 0; run < runs; ++run) {
        const std::string dir = root + "/cleaner_bench-" + std::to_string(::getpid()) + "-" + std::to_string(run);
        fs::remove_all(dir);
        auto store = make_memory_state_store();
        flusher flush(false);
        manual_clock time;
        auto b = build_log(dir, mib, *store, flush, time);
        cleaner_options options;
        options.ignore_dirty_ratio = true;
        auto start = steady::now();
        auto stats = clean_log(*b.log, options);
        double secs = std::chrono::duration<double>(steady::now() - start).count();
        if (!stats) {
            std::fprintf(stderr, "clean failed: %s\n", to_string(stats.error()).c_str());
            return 1;
        }
        std::printf("run %d: log %.1f MiB (%d committed, %d aborted txns) cleaned in %.3f s = %.1f MB/s; "
                    "%zu segments rewritten, %.1f MiB read, %.1f MiB written, %lld records removed, after %.1f MiB\n",
                    run, double(b.bytes) / (1 << 20), b.committed, b.aborted, secs, double(b.bytes) / secs / 1e6,
                    stats.value().segments_rewritten, double(stats.value().bytes_read) / (1 << 20),
                    double(stats.value().bytes_written) / (1 << 20), (long long)stats.value().records_removed,
                    double(b.log->size_bytes()) / (1 << 20));
        std::fflush(stdout);
        (void)b.log->close(false);
        b.log.reset();
        fs::remove_all(dir);
    }
    return 0;
}
