// The process the crash test kills: appends batches to one partition log as
// fast as it can, asks for each to be made durable (group commit), and prints
// "durable <offset>" on stdout when the flusher says every offset below it is
// on disk. The test kills it with SIGKILL at a random moment.
//
//   storage_crash_writer <data_dir> <run>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include "crash_records.h"
#include "strata/protocol/record_batch.h"
#include "strata/storage/log_manager.h"

using namespace strata;
using namespace strata::storage;

namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::vector<uint8_t> make_batch(int run, int64_t& sequence, int records, size_t value_size,
                                protocol::compression_codec codec) {
    protocol::record_batch_options options;
    options.compression = codec;
    protocol::record_batch_builder builder(options);
    for (int i = 0; i < records; ++i) {
        std::string key = std::to_string(run) + ":" + std::to_string(sequence++);
        std::string value = crash::value_for(key, value_size);
        builder.append(now_ms(), protocol::bytes_view(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                       protocol::bytes_view(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
    }
    return builder.build().value();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <data_dir> <run>\n", argv[0]);
        return 2;
    }
    int run = std::stoi(argv[2]);
    log_manager_config config;
    config.data_dir = argv[1];
    config.housekeeping_interval_ms = 20;
    auto manager = log_manager::open(config);
    if (!manager) {
        std::fprintf(stderr, "open: %s\n", to_string(manager.error()).c_str());
        return 1;
    }
    log_config lc;
    lc.segment_bytes = 256 << 10;
    lc.index_interval_bytes = 1024;
    lc.retention_bytes = 3 << 20;
    auto log = manager.value()->get_or_create({"crash", partition_id(0)}, lc);
    if (!log) return 1;
    std::printf("ready %lld\n", static_cast<long long>(log.value()->end_offset().value()));
    std::fflush(stdout);
    std::atomic<int64_t> reported{-1};
    int64_t sequence = 0;
    const protocol::compression_codec codecs[] = {protocol::compression_codec::none, protocol::compression_codec::lz4,
                                                  protocol::compression_codec::zstd};
    for (int i = 0;; ++i) {
        auto batch = make_batch(run, sequence, 1 + i % 16, 64 + (i * 37) % 400, codecs[i % 3]);
        auto appended = log.value()->append(batch, leader_epoch(run));
        if (!appended) {
            std::fprintf(stderr, "append: %s\n", to_string(appended.error()).c_str());
            return 1;
        }
        offset upto = appended.value().last_offset.next();
        log.value()->flush_to(upto, [&reported, upto](result<void> status) {
            if (!status) return;
            // Callbacks may complete out of order relative to each other's
            // prints; print only progress. write(2) is atomic for a line.
            int64_t previous = reported.load();
            while (previous < upto.value() && !reported.compare_exchange_weak(previous, upto.value())) {
            }
            if (previous >= upto.value()) return;
            char line[64];
            int n = std::snprintf(line, sizeof line, "durable %lld\n", static_cast<long long>(upto.value()));
            (void)!::write(1, line, size_t(n));
        });
    }
}
