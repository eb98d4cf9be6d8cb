#include "lru_cache.h"

#include <atomic>

namespace strata::storage {

uint64_t lru_cache::next_id() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}

std::shared_ptr<const void> lru_cache::get(uint64_t id) {
    std::lock_guard lock(_mutex);
    auto it = _by_id.find(id);
    if (it == _by_id.end()) return nullptr;
    _order.splice(_order.begin(), _order, it->second);
    return it->second->object;
}

void lru_cache::put(uint64_t id, std::shared_ptr<const void> object, size_t cost) {
    // Released outside the lock: freeing a loaded index or closing a
    // descriptor is not worth holding every other reader up for.
    std::list<node> dropped;
    {
        std::lock_guard lock(_mutex);
        if (auto it = _by_id.find(id); it != _by_id.end()) {
            _cost -= it->second->cost;
            dropped.splice(dropped.begin(), _order, it->second);
            _by_id.erase(it);
        }
        _order.push_front({id, std::move(object), cost});
        _by_id[id] = _order.begin();
        _cost += cost;
        while (_cost > _capacity && _order.size() > 1) {
            auto& victim = _order.back();
            _cost -= victim.cost;
            _by_id.erase(victim.id);
            dropped.splice(dropped.begin(), _order, std::prev(_order.end()));
        }
    }
}

void lru_cache::erase(uint64_t id) {
    std::list<node> dropped;
    std::lock_guard lock(_mutex);
    auto it = _by_id.find(id);
    if (it == _by_id.end()) return;
    _cost -= it->second->cost;
    dropped.splice(dropped.begin(), _order, it->second);
    _by_id.erase(it);
}

void lru_cache::set_capacity(size_t capacity) {
    std::list<node> dropped;
    std::lock_guard lock(_mutex);
    _capacity = capacity;
    while (_cost > _capacity && !_order.empty()) {
        _cost -= _order.back().cost;
        _by_id.erase(_order.back().id);
        dropped.splice(dropped.begin(), _order, std::prev(_order.end()));
    }
}

size_t lru_cache::capacity() const {
    std::lock_guard lock(_mutex);
    return _capacity;
}

size_t lru_cache::cost() const {
    std::lock_guard lock(_mutex);
    return _cost;
}

size_t lru_cache::size() const {
    std::lock_guard lock(_mutex);
    return _order.size();
}

// Never destroyed: segments (and their indexes) release their entries in
// their destructors, which may run during static destruction.
lru_cache& index_cache() {
    static auto* cache = new lru_cache(8 << 20);
    return *cache;
}

lru_cache& log_file_cache() {
    static auto* cache = new lru_cache(1024);
    return *cache;
}

}  // namespace strata::storage
