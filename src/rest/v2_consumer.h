// The v2 consumer instances (Confluent's /consumers/{group}/instances/...).
#pragma once

#include <atomic>
#include <mutex>

#include "common.h"

namespace strata::rest {

struct consumer_instance;

class consumer_registry {
public:
    explicit consumer_registry(size_t max_poll_bytes) : _max_poll_bytes(max_poll_bytes) {}
    void add_routes(std::vector<route>& routes);  // captures `this`
    void stopping() { _stopping = true; }

private:
    std::shared_ptr<consumer_instance> find(const std::string& group, const std::string& name);

    size_t _max_poll_bytes;
    std::mutex _mutex;
    std::map<std::pair<std::string, std::string>, std::shared_ptr<consumer_instance>> _instances;
    std::atomic<uint64_t> _next_id{1};
    std::atomic<bool> _stopping{false};
};

}  // namespace strata::rest
