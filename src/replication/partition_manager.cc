#include "strata/replication/partition_manager.h"

#include <algorithm>
#include <set>

#include "strata/common/log.h"

namespace strata::replication {

namespace {

const auto& logger() {
    static const auto instance = log::get("replication");
    return instance;
}

}  // namespace

partition_manager::partition_manager(partition_manager_options options, storage::log_manager& logs,
                                     boost::asio::any_io_executor executor)
    : _options(std::move(options)), _logs(logs), _executor(std::move(executor)) {
    _state.store(std::make_shared<const state>());
}

partition_manager::~partition_manager() = default;

void partition_manager::apply(std::shared_ptr<const metadata::metadata_image> image,
                              const metadata::image_changes& changes, bool reconcile_all) {
    auto previous = load();
    auto next = std::make_shared<state>();
    next->image = image;
    next->registered = registered_in(*image);
    next->hosted = previous->hosted;  // copies pointers: O(topics hosted)

    // Deletions first, so that a topic deleted and re-created under the same
    // name in one delta gets a fresh log. The directory is renamed at once
    // (storage deletes its files in the background); an append racing with
    // it fails with `closed`, answered as NOT_LEADER_OR_FOLLOWER.
    for (const auto& [id, name] : changes.deleted_topics) {
        auto it = next->hosted.find(name);
        if (it != next->hosted.end()) {
            for (auto& p : it->second)
                if (p) drop(p);
            next->hosted.erase(it);
        }
        // Every replica of a deleted topic goes, led here or not.
        std::set<int32_t> removed;
        for (const auto& tp : _logs.partitions_on_disk())
            if (tp.topic == name) removed.insert(tp.partition.value());
        if (const auto* old = previous->image ? previous->image->topic(id) : nullptr)
            for (const auto& ps : old->partitions) removed.insert(ps.partition);
        for (int32_t index : removed) {
            auto tp = topic_partition{name, storage::partition_id(index)};
            if (auto r = _logs.remove(tp); !r && r.error().code != storage::storage_errc::unknown_partition)
                logger()->error("{}: deleting the log of deleted topic failed: {}", tp, r.error());
            else
                logger()->info("{}: deleted with its topic", tp);
        }
    }

    const partition_config defaults = defaults_in(*image);
    // The first image with this broker's own registration: every partition
    // it was told to lead before (from the replayed, stale image) is looked
    // at again, since only now may it lead.
    if (previous->image && next->registered && !previous->registered) reconcile_all = true;
    if (reconcile_all || !previous->image) {
        for (const auto& [name, topic] : image->topics()) reconcile_topic(defaults, *topic, *image, next->hosted);
        // Hosted topics the image no longer has (deleted while we were away
        // from the log, say) stop; their logs stay until a delete names them.
        for (auto it = next->hosted.begin(); it != next->hosted.end();) {
            if (image->topic(it->first)) {
                ++it;
                continue;
            }
            for (auto& p : it->second)
                if (p) drop(p);
            it = next->hosted.erase(it);
        }
    } else {
        std::vector<protocol::uuid> ids = changes.created_topics;
        ids.insert(ids.end(), changes.changed_topics.begin(), changes.changed_topics.end());
        for (const auto& id : ids)
            if (const auto* topic = image->topic(id)) reconcile_topic(defaults, *topic, *image, next->hosted);
        // Altered topic configs, and dynamic broker configs (the defaults of
        // every topic), reach the partitions already open. (Resolving every
        // led topic is cheap next to how rarely configs change.)
        if (changes.configs_changed) {
            for (const auto& [name, slots] : next->hosted) {
                std::vector<std::string> problems;
                auto config = resolve_partition_config(
                    defaults, image->configs({metadata::config_resource_type::topic, name}), &problems);
                for (const auto& problem : problems) logger()->warn("topic {}: config {}; ignored", name, problem);
                for (const auto& p : slots)
                    if (p) p->update_config(config);
            }
        }
    }
    maybe_remove_strays(*image, next->hosted);
    _state.store(std::move(next), std::memory_order_release);
    tell_elected();
}

void partition_manager::on_leadership(std::string topic, leadership_listener listener) {
    std::lock_guard lock(_listeners_mutex);
    _listeners[std::move(topic)].push_back(std::move(listener));
}

void partition_manager::tell_elected() {
    auto elected = std::move(_elected);
    _elected.clear();
    for (auto& [p, index] : elected) {
        std::vector<leadership_listener> listeners;
        {
            std::lock_guard lock(_listeners_mutex);
            auto it = _listeners.find(p->id().topic);
            if (it == _listeners.end()) continue;
            listeners = it->second;
        }
        // Behind become_leader on the strand: is_leader() holds when they run.
        p->after_pending([listeners = std::move(listeners), index] {
            for (const auto& l : listeners) l(index);
        });
    }
}

void partition_manager::maybe_remove_strays(const metadata::metadata_image& image,
                                            const std::unordered_map<std::string, topic_partitions>& hosted) {
    // Images replayed from the local metadata log before the broker caught
    // up may be arbitrarily old: a partition created since would look like
    // a stray. The image with our own registration is past all of that.
    if (_strays_removed || _options.incarnation_id.is_zero() || !registered_in(image)) return;
    _strays_removed = true;
    for (const auto& tp : _logs.partitions_on_disk()) {
        const auto index = size_t(tp.partition.value());
        if (auto it = hosted.find(tp.topic); it != hosted.end() && index < it->second.size() && it->second[index])
            continue;
        const auto* topic = image.topic(tp.topic);
        if (topic && index < topic->partitions.size()) {
            const auto& replicas = topic->partitions[index].replicas;
            if (std::find(replicas.begin(), replicas.end(), _options.node_id) != replicas.end()) continue;
        }
        // Kafka's stray replica (LogManager.findStrayReplicas): reassigned
        // away or deleted while this broker was down.
        if (auto r = _logs.remove(tp); !r) {
            if (r.error().code != storage::storage_errc::unknown_partition)
                logger()->error("{}: deleting the stray log failed: {}", tp, r.error());
        } else {
            logger()->info("{}: deleted a stray log ({}; not a replica here as of this broker's registration)", tp,
                           topic ? "the partition is assigned elsewhere" : "its topic is gone");
        }
    }
}

partition_config partition_manager::defaults_in(const metadata::metadata_image& image) const {
    if (!_options.dynamic_defaults) return _options.defaults;
    std::vector<std::string> problems;
    auto config = resolve_partition_config(_options.defaults, _options.dynamic_defaults(image), &problems);
    for (const auto& problem : problems) logger()->warn("dynamic broker config {}; ignored", problem);
    return config;
}

void partition_manager::drop(std::shared_ptr<partition>& slot) {
    if (_options.on_follow) _options.on_follow(slot, -1, slot->epoch());
    slot->stop();
    slot.reset();
}

void partition_manager::reconcile_topic(const partition_config& defaults, const metadata::topic_image& topic,
                                        const metadata::metadata_image& image,
                                        std::unordered_map<std::string, topic_partitions>& hosted) {
    auto& slots = hosted[topic.name];
    // A topic that was re-created under its old name since we last looked.
    for (auto& p : slots)
        if (p && p->topic_id() != topic.id) drop(p);
    if (slots.size() < topic.partitions.size()) slots.resize(topic.partitions.size());

    std::optional<partition_config> config;  // resolved once, for the first new partition
    for (const auto& ps : topic.partitions) {
        auto& slot = slots[size_t(ps.partition)];
        const topic_partition tp{topic.name, storage::partition_id(ps.partition)};
        const bool replica =
            std::find(ps.replicas.begin(), ps.replicas.end(), _options.node_id) != ps.replicas.end();
        if (!replica) {
            // No longer a replica here (a reassignment moved it away): the
            // partition stops and its log is deleted, as Kafka's StopReplica
            // with delete. Only a partition this node was hosting: a log left
            // on disk from before is not ours to judge here.
            if (slot) {
                logger()->info("{}: no longer a replica here (leader {} at epoch {}); deleting its log", tp, ps.leader,
                               ps.leader_epoch);
                drop(slot);
                if (auto r = _logs.remove(tp); !r && r.error().code != storage::storage_errc::unknown_partition)
                    logger()->error("{}: deleting the log of a removed replica failed: {}", tp, r.error());
            }
            continue;
        }
        if (!slot) {
            if (!config) {
                std::vector<std::string> problems;
                config = resolve_partition_config(
                    defaults, image.configs({metadata::config_resource_type::topic, topic.name}), &problems);
                for (const auto& problem : problems) logger()->warn("topic {}: config {}; ignored", topic.name, problem);
            }
            auto log = _logs.get_or_create(tp, config->log, topic.id);
            if (!log) {
                logger()->error("{}: cannot open its log: {}", tp, log.error());
                continue;
            }
            slot = std::make_shared<partition>(_options.node_id, tp, topic.id, std::move(log).value(), *config,
                                               _executor, *_options.clock, _options.isr_sender);
        }
        const leader_epoch epoch(ps.leader_epoch);
        if (leader_here(image, ps.leader)) {
            if (!slot->is_leader() || slot->epoch() != epoch) _elected.emplace_back(slot, ps.partition);
            slot->become_leader(leadership{epoch, ps.replicas, ps.isr, ps.partition_epoch});
            if (_options.on_follow) _options.on_follow(slot, -1, epoch);
        } else {
            // Named the leader by an image from before this broker's
            // registration: it waits, leaderless, as Kafka's broker does not
            // act on metadata until it has registered and caught up. (Its
            // log may have lost a tail the other replicas still have: leading
            // at the old epoch would overwrite their records with new ones
            // at the same offsets and epoch, found by the chaos suite.) The
            // controller moves the old incarnation's leaderships off when
            // this one registers.
            const int32_t leader = ps.leader == _options.node_id ? metadata::no_leader : ps.leader;
            slot->become_follower(followership{leader, epoch, ps.replicas});
            if (_options.on_follow) _options.on_follow(slot, leader, epoch);
        }
    }
    if (std::none_of(slots.begin(), slots.end(), [](const auto& p) { return p != nullptr; })) hosted.erase(topic.name);
}

void partition_manager::stop_all() {
    auto previous = load();
    for (const auto& [name, slots] : previous->hosted)
        for (auto p : slots)
            if (p) drop(p);
    auto next = std::make_shared<state>();
    next->image = previous->image;
    next->registered = previous->registered;
    _state.store(std::move(next), std::memory_order_release);
}

std::shared_ptr<const metadata::metadata_image> partition_manager::image() const { return load()->image; }

partition_lookup partition_manager::find_in(const state& s, const metadata::topic_image* topic, int32_t partition,
                                            bool any_replica) const {
    partition_lookup out;
    if (!topic || partition < 0 || size_t(partition) >= topic->partitions.size()) {
        out.error = kafka_error::unknown_topic_or_partition;
        if (topic) {
            out.topic_id = topic->id;
            out.topic_name = topic->name;
        }
        return out;
    }
    out.topic_id = topic->id;
    out.topic_name = topic->name;
    // The image decides who leads; the partition follows it on its strand
    // (a produce that gets there first is refused NOT_LEADER_OR_FOLLOWER).
    auto it = s.hosted.find(topic->name);
    if ((any_replica || (s.registered && topic->partitions[size_t(partition)].leader == _options.node_id)) &&
        it != s.hosted.end() &&
        size_t(partition) < it->second.size() && it->second[size_t(partition)] &&
        it->second[size_t(partition)]->topic_id() == topic->id) {
        out.leader = it->second[size_t(partition)];
        return out;
    }
    out.error = kafka_error::not_leader_or_follower;
    return out;
}

namespace {
// A lookup by an id the image does not know: Kafka's UNKNOWN_TOPIC_ID (v13+ Fetch).
partition_lookup unknown_topic_id(const protocol::uuid& topic_id) {
    partition_lookup out;
    out.error = kafka_error::unknown_topic_id;
    out.topic_id = topic_id;
    return out;
}
}  // namespace

partition_lookup partition_manager::find(std::string_view topic, int32_t partition) const {
    auto s = load();
    return find_in(*s, s->image ? s->image->topic(topic) : nullptr, partition);
}

partition_lookup partition_manager::find(const protocol::uuid& topic_id, int32_t partition) const {
    auto s = load();
    const auto* topic = s->image ? s->image->topic(topic_id) : nullptr;
    if (!topic) return unknown_topic_id(topic_id);
    return find_in(*s, topic, partition);
}

partition_lookup partition_manager::find_replica(std::string_view topic, int32_t partition) const {
    auto s = load();
    return find_in(*s, s->image ? s->image->topic(topic) : nullptr, partition, true);
}

partition_lookup partition_manager::find_replica(const protocol::uuid& topic_id, int32_t partition) const {
    auto s = load();
    const auto* topic = s->image ? s->image->topic(topic_id) : nullptr;
    if (!topic) return unknown_topic_id(topic_id);
    return find_in(*s, topic, partition, true);
}

bool partition_manager::leads(const state& s, const partition& p) const {
    const auto* topic = s.image->topic(p.topic_id());
    const auto index = size_t(p.id().partition.value());
    return s.registered && topic && index < topic->partitions.size() &&
           topic->partitions[index].leader == _options.node_id;
}

bool partition_manager::registered_in(const metadata::metadata_image& image) const {
    if (_options.incarnation_id.is_zero()) return true;
    const auto* self = image.broker(_options.node_id);
    return self && self->incarnation_id == _options.incarnation_id;
}

bool partition_manager::leader_here(const metadata::metadata_image& image, int32_t leader) const {
    return leader == _options.node_id && registered_in(image);
}

std::vector<std::shared_ptr<partition>> partition_manager::leaders() const {
    auto s = load();
    std::vector<std::shared_ptr<partition>> out;
    for (const auto& [name, slots] : s->hosted)
        for (const auto& p : slots)
            if (p && s->image && leads(*s, *p)) out.push_back(p);
    return out;
}

std::vector<std::shared_ptr<partition>> partition_manager::replicas() const {
    std::vector<std::shared_ptr<partition>> out;
    for (const auto& [name, slots] : load()->hosted)
        for (const auto& p : slots)
            if (p) out.push_back(p);
    return out;
}

}  // namespace strata::replication
