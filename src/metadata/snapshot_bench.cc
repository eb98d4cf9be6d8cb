// Metadata snapshot load time (target: an image of 100,000 partitions loads
// in at most 1 s). Builds an image of <topics> x <partitions> with 3
// brokers, writes its snapshot to a file in <dir> and fsyncs it, then
// times, from a dropped page cache where the kernel allows it (else warm):
// reading the file, decoding and replaying it into an image. Beside it, the
// same file read with plain read(2) in 1 MiB blocks (what `dd bs=1M` does),
// to tell the disk's share from the decoder's.
//
//   strata_metadata_snapshot_bench [dir] [topics] [partitions per topic] [rounds]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/metadata/snapshot.h"

namespace sm = strata::metadata;
using clock_type = std::chrono::steady_clock;

namespace {

double ms_since(clock_type::time_point start) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

std::shared_ptr<const sm::metadata_image> build_image(int topics, int partitions) {
    sm::metadata_delta d(nullptr);
    sm::records::feature_level_record mv;
    mv.name = "metadata.version";
    mv.feature_level = 21;
    d.replay(mv);
    for (int32_t b = 1; b <= 3; ++b) {
        sm::records::register_broker_record r;
        r.broker_id = b;
        r.broker_epoch = b;
        r.incarnation_id = strata::protocol::uuid::random();
        auto& e = r.end_points.emplace_back();
        e.name = "PLAINTEXT";
        e.host = "broker-" + std::to_string(b) + ".example.com";
        e.port = 9092;
        r.rack = std::nullopt;
        r.fenced = false;
        d.replay(r);
    }
    for (int t = 0; t < topics; ++t) {
        sm::records::topic_record tr;
        tr.name = "topic-" + std::to_string(t);
        tr.topic_id = strata::protocol::uuid::random();
        d.replay(tr);
        for (int32_t p = 0; p < partitions; ++p) {
            sm::records::partition_record pr;
            pr.topic_id = tr.topic_id;
            pr.partition_id = p;
            pr.replicas = {1 + (t + p) % 3, 1 + (t + p + 1) % 3, 1 + (t + p + 2) % 3};
            pr.isr = pr.replicas;
            pr.leader = pr.replicas.front();
            pr.leader_epoch = 3;
            pr.partition_epoch = 5;
            d.replay(pr);
        }
        if (t % 10 == 0) {
            sm::records::config_record c;
            c.resource_type = static_cast<int8_t>(sm::config_resource_type::topic);
            c.resource_name = tr.name;
            c.name = "retention.ms";
            c.value = "86400000";
            d.replay(c);
        }
    }
    sm::records::producer_ids_record pids;
    pids.next_producer_id = 1000000;
    d.replay(pids);
    d.set_end_offset(int64_t{topics} * (partitions + 1) + 10);
    return d.apply();
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) throw std::runtime_error("cannot create " + path.string());
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) throw std::runtime_error("write failed");
        done += size_t(n);
    }
    if (::fsync(fd) != 0) throw std::runtime_error("fsync failed");
    ::close(fd);
}

// Asks the kernel to forget the file's cached pages (they are clean after
// fsync); returns whether it could.
bool drop_cache(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) return false;
    const bool ok = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
    ::close(fd);
    return ok;
}

std::string read_file(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw std::runtime_error("cannot open " + path.string());
    std::string out(std::filesystem::file_size(path), '\0');
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::read(fd, out.data() + done, std::min<size_t>(out.size() - done, size_t{1} << 20));
        if (n <= 0) throw std::runtime_error("read failed");
        done += size_t(n);
    }
    ::close(fd);
    return out;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const std::filesystem::path dir = argc > 1 ? argv[1] : std::filesystem::temp_directory_path();
    const int topics = argc > 2 ? std::atoi(argv[2]) : 10000;
    const int partitions = argc > 3 ? std::atoi(argv[3]) : 10;
    const int rounds = argc > 4 ? std::atoi(argv[4]) : 5;
    const auto path = dir / ("strata-snapshot-bench-" + std::to_string(::getpid()) + ".checkpoint");

    auto start = clock_type::now();
    const auto image = build_image(topics, partitions);
    std::printf("image: %d topics x %d partitions = %d partitions, 3 brokers (built in %.0f ms)\n", topics, partitions,
                topics * partitions, ms_since(start));

    start = clock_type::now();
    const std::string bytes = sm::write_snapshot(*image, 7, 0);
    const double serialize_ms = ms_since(start);
    start = clock_type::now();
    write_file(path, bytes);
    const double write_ms = ms_since(start);
    std::printf("snapshot: %.1f MiB; serialize %.0f ms, write + fsync %.0f ms\n", double(bytes.size()) / (1 << 20),
                serialize_ms, write_ms);

    std::vector<double> load, raw;
    bool cold = true;
    for (int i = 0; i < rounds; ++i) {
        cold = drop_cache(path) && cold;
        start = clock_type::now();
        const std::string data = read_file(path);
        const double read_ms = ms_since(start);
        raw.push_back(read_ms);
        (void)data;

        cold = drop_cache(path) && cold;
        start = clock_type::now();
        const auto loaded = sm::read_snapshot(read_file(path), image->end_offset());
        load.push_back(ms_since(start));
        if (i == 0 && !loaded->same_contents(*image)) {
            std::fprintf(stderr, "the loaded image differs from the written one\n");
            return 1;
        }
    }
    std::filesystem::remove(path);
    const double mib = double(bytes.size()) / (1 << 20);
    std::printf("read(2) of the file (dd bs=1M equivalent, %s cache): median %.1f ms (%.0f MiB/s)\n",
                cold ? "dropped" : "warm", median(raw), mib / (median(raw) / 1000));
    std::printf(
        "load (read + decode + replay into an image), %d rounds: median %.0f ms, min %.0f ms, max %.0f ms "
        "(target <= 1000 ms)\n",
        rounds, median(load), *std::min_element(load.begin(), load.end()), *std::max_element(load.begin(), load.end()));
    return median(load) <= 1000 ? 0 : 2;
}
