// The controller's leadership moves that a broker's own request or a timer
// asks for, rather than a failure: controlled shutdown (a heartbeat with
// WantShutDown, KIP-631) and preferred-leader election
// (auto.leader.rebalance.enable). Pure functions of the image, like the rest
// of controller.h.
#include <algorithm>
#include <charconv>
#include <map>

#include "strata/metadata/controller.h"

namespace strata::metadata {

namespace {

bool contains(const std::vector<int32_t>& ids, int32_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

// Can lead or join an ISR: registered, unfenced, not shutting down.
bool usable(const metadata_image& image, int32_t id) {
    const broker_registration* b = image.broker(id);
    return b && !b->fenced && !b->in_controlled_shutdown;
}

}  // namespace

int32_t controller::min_insync_replicas(const metadata_image& image, const std::string& topic) const {
    const auto& configs = image.configs({config_resource_type::topic, topic});
    if (auto it = configs.find("min.insync.replicas"); it != configs.end()) {
        int32_t value = 0;
        const auto& text = it->second;
        if (std::from_chars(text.data(), text.data() + text.size(), value).ec == std::errc{} && value > 0) return value;
    }
    return std::max(1, _options.default_min_insync_replicas);
}

std::vector<record> controller::move_leadership_for_shutdown(const metadata_image& image, int32_t broker_id) const {
    std::vector<record> out;
    for (const auto& [name, topic] : image.topics()) {
        const int32_t min_isr = min_insync_replicas(image, name);
        for (const auto& p : topic->partitions) {
            if (!contains(p.isr, broker_id)) continue;
            std::vector<int32_t> without;
            for (int32_t id : p.isr)
                if (id != broker_id) without.push_back(id);
            records::partition_change_record change;
            change.topic_id = topic->id;
            change.partition_id = p.partition;
            if (p.leader == broker_id) {
                // Kafka's clean election: the first replica, in assignment
                // order, that is in the ISR and usable. None: the partition
                // stays here until the broker goes (it has nowhere to go).
                auto next = std::find_if(p.replicas.begin(), p.replicas.end(), [&](int32_t id) {
                    return id != broker_id && contains(without, id) && usable(image, id);
                });
                if (next == p.replicas.end()) continue;
                change.leader = *next;
            }
            // Out of the ISR, so that acks=all stops waiting for it, unless
            // that leaves fewer than min.insync.replicas: then it stays,
            // eligible to lead again, and the leader's lag check decides.
            if (static_cast<int32_t>(without.size()) >= min_isr) change.isr = without;
            if (change.isr || change.leader != -2) out.emplace_back(change);
        }
    }
    return out;
}

bool controller::every_active_broker_reached(const metadata_image& image, int64_t offset) const {
    for (const auto& [id, b] : image.brokers()) {
        if (b.fenced) continue;
        auto it = _metadata_offset.find(id);
        if (it == _metadata_offset.end() || it->second < offset) return false;
    }
    return true;
}

std::vector<record> controller::controlled_shutdown(const metadata_image& image, const broker_registration& b,
                                                    msg::broker_heartbeat_response& response) {
    std::vector<record> out;
    if (!b.in_controlled_shutdown) {
        records::broker_registration_change_record change;
        change.broker_id = b.id;
        change.broker_epoch = b.epoch;
        change.fenced = 0;  // no change yet: it still serves while its leaders move
        change.in_controlled_shutdown = 1;
        out.emplace_back(change);
    }
    auto moved = move_leadership_for_shutdown(image, b.id);
    out.insert(out.end(), moved.begin(), moved.end());
    response.is_fenced = b.fenced;
    response.should_shut_down = false;
    if (!out.empty()) {
        _controlled_shutdown_offset.erase(b.id);
        return out;
    }
    // Nothing left to move in this image: the broker may go once every
    // active broker (itself included) has applied it, so that none sends
    // clients or its fetchers to it any more.
    auto [it, inserted] = _controlled_shutdown_offset.try_emplace(b.id, b.epoch, image.end_offset());
    if (it->second.first != b.epoch) it->second = {b.epoch, image.end_offset()};
    if (!every_active_broker_reached(image, it->second.second)) return out;
    response.should_shut_down = true;
    response.is_fenced = true;
    _controlled_shutdown_offset.erase(it);
    if (!b.fenced) {
        records::broker_registration_change_record fence;
        fence.broker_id = b.id;
        fence.broker_epoch = b.epoch;
        fence.fenced = 1;
        out.emplace_back(fence);
    }
    return out;
}

std::vector<record> controller::rebalance_leaders(const metadata_image& image, int64_t now_ms) {
    if (!_options.auto_leader_rebalance_enable) return {};
    // The first check comes one interval after this controller took over,
    // as Kafka schedules it.
    if (_last_rebalance_ms < 0) _last_rebalance_ms = now_ms;
    if (now_ms - _last_rebalance_ms < _options.leader_imbalance_check_interval_ms) return {};
    _last_rebalance_ms = now_ms;
    struct imbalance {
        int32_t preferred = 0;  // partitions whose first replica it is
        std::vector<std::pair<const topic_image*, const partition_state*>> not_led;
    };
    std::map<int32_t, imbalance> by_broker;
    for (const auto& [name, topic] : image.topics()) {
        for (const auto& p : topic->partitions) {
            if (p.replicas.empty()) continue;
            auto& entry = by_broker[p.replicas.front()];
            ++entry.preferred;
            if (p.leader != p.replicas.front()) entry.not_led.emplace_back(topic.get(), &p);
        }
    }
    std::vector<record> out;
    for (const auto& [id, entry] : by_broker) {
        if (entry.not_led.empty() || !usable(image, id)) continue;
        // Kafka: rebalance when the ratio exceeds the percentage.
        if (static_cast<int64_t>(entry.not_led.size()) * 100 <=
            static_cast<int64_t>(entry.preferred) * _options.leader_imbalance_per_broker_percentage)
            continue;
        for (const auto& [topic, p] : entry.not_led) {
            // Only a caught-up replica leads: one in the ISR.
            if (!contains(p->isr, id)) continue;
            records::partition_change_record change;
            change.topic_id = topic->id;
            change.partition_id = p->partition;
            change.leader = id;
            out.emplace_back(change);
        }
    }
    return out;
}

std::vector<record> controller::remove_expired_delegation_tokens(const metadata_image& image, int64_t now_ms) {
    std::vector<record> out;
    if (_last_token_sweep_ms < 0) _last_token_sweep_ms = now_ms;
    if (now_ms - _last_token_sweep_ms < _options.delegation_token_expiry_check_interval_ms) return out;
    _last_token_sweep_ms = now_ms;
    for (const auto& [id, token] : image.tokens()) {
        if (token.max_timestamp >= now_ms && token.expiration_timestamp >= now_ms) continue;
        records::remove_delegation_token_record remove;
        remove.token_id = id;
        out.emplace_back(remove);
    }
    return out;
}

}  // namespace strata::metadata
