#include "topic_metrics.h"

#include <mutex>

namespace strata::server {

namespace {

constexpr const char* bytes_in_name = "strata_bytes_in_total";
constexpr const char* messages_in_name = "strata_messages_in_total";
constexpr const char* bytes_out_name = "strata_bytes_out_total";

}  // namespace

topic_metrics::topic_metrics(metrics::registry& registry, image_source image)
    : _registry(registry),
      _image(std::move(image)),
      _replication_bytes_out(registry.counter(
          "strata_replication_bytes_out_total",
          "Bytes of records sent to follower replicas (Kafka: BrokerTopicMetrics ReplicationBytesOutPerSec).")) {
    using metrics::metric_type;
    auto collector = [this](metrics::counter series::*field) {
        return [this, field] {
            std::vector<metrics::sample> out;
            for (const auto& [topic, s] : live()) out.push_back({{{"topic", topic}}, double(((*s).*field).value())});
            return out;
        };
    };
    _registry.add_collector(bytes_in_name,
                            "Bytes of record batches appended by produce requests, by topic (Kafka: "
                            "BrokerTopicMetrics BytesInPerSec).",
                            metric_type::counter, collector(&series::bytes_in));
    _registry.add_collector(
        messages_in_name,
        "Records appended by produce requests, by topic (Kafka: BrokerTopicMetrics MessagesInPerSec).",
        metric_type::counter, collector(&series::messages_in));
    _registry.add_collector(bytes_out_name,
                            "Bytes of records sent to consumers, by topic; followers not included (Kafka: "
                            "BrokerTopicMetrics BytesOutPerSec).",
                            metric_type::counter, collector(&series::bytes_out));
}

topic_metrics::~topic_metrics() {
    _registry.remove_collector(bytes_in_name);
    _registry.remove_collector(messages_in_name);
    _registry.remove_collector(bytes_out_name);
}

std::shared_ptr<topic_metrics::series> topic_metrics::of(std::string_view topic) {
    {
        std::shared_lock lock(_mutex);
        if (auto found = _topics.find(std::string(topic)); found != _topics.end()) return found->second;
    }
    std::unique_lock lock(_mutex);
    auto& slot = _topics[std::string(topic)];
    if (!slot) {
        slot = std::make_shared<series>();
        if (_image)
            if (auto image = _image())
                if (const auto* t = image->topic(topic)) slot->topic_id = t->id;
    }
    return slot;
}

std::vector<std::pair<std::string, std::shared_ptr<topic_metrics::series>>> topic_metrics::live() {
    std::vector<std::pair<std::string, std::shared_ptr<series>>> out;
    const auto image = _image ? _image() : nullptr;
    std::unique_lock lock(_mutex);
    out.reserve(_topics.size());
    for (auto it = _topics.begin(); it != _topics.end();) {
        if (image) {
            const auto* t = image->topic(it->first);
            const bool zero = it->second->topic_id == protocol::uuid{};
            // Gone, or gone and created again under a new id: its series go
            // (a new topic of the name starts from zero, as in Kafka).
            if (!t || (!zero && t->id != it->second->topic_id)) {
                it = _topics.erase(it);
                continue;
            }
            if (zero) it->second->topic_id = t->id;
        }
        out.emplace_back(it->first, it->second);
        ++it;
    }
    return out;
}

}  // namespace strata::server
