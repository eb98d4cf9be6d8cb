#include "sim_cluster.h"

#include <algorithm>
#include <iostream>
#include <stdexcept>

#include <fmt/format.h>

namespace strata::raft::testing {

namespace {
[[noreturn]] void violation(const std::string& what) { throw std::logic_error("raft safety violation: " + what); }

std::string describe(const log_entry& e) {
    return fmt::format("(offset {}, epoch {}, {}'{}')", e.off, e.ep, e.kind == entry_kind::leader_change ? "leader-change " : "",
                       e.data);
}
}  // namespace

// ---- checked_log ----

void checked_log::append(log_entry entry) {
    _checker.on_append(_id, *this, entry);
    inner.append(std::move(entry));
}

// ---- safety_checker ----

uint64_t safety_checker::chain(uint64_t digest, const log_entry& entry) {
    // FNV-1a over the entry's identity and bytes: equal digests mean equal
    // applied histories (for the purpose of a test).
    auto mix = [&](uint64_t v) {
        for (int i = 0; i < 8; ++i) {
            digest = (digest ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ULL;
        }
    };
    mix(static_cast<uint64_t>(entry.off.value()));
    mix(static_cast<uint64_t>(entry.ep.value()));
    for (char c : entry.data) {
        digest = (digest ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
    }
    return digest;
}

void safety_checker::on_append(node_id node, const checked_log& log, const log_entry& entry) {
    std::optional<epoch> previous;
    if (entry.off > log.start_offset()) {
        previous = log.entry(entry.off - 1).ep;
    } else if (entry.off == offset{0}) {
        previous = epoch{0};
    } else if (auto snapshot = log.latest_snapshot(); snapshot && snapshot->end_offset == entry.off) {
        previous = snapshot->ep;
    }
    auto [it, inserted] = _entries.try_emplace({entry.off.value(), entry.ep.value()},
                                               entry_record{entry.data, entry.kind, previous});
    if (inserted) {
        return;
    }
    // Log matching: one (offset, epoch) is one entry, and it follows the same
    // entry everywhere (by induction, the whole prefix is equal).
    if (it->second.data != entry.data || it->second.kind != entry.kind) {
        violation(fmt::format("node {} appends {} but another log has '{}' there", node, describe(entry), it->second.data));
    }
    if (previous && it->second.previous_epoch && *previous != *it->second.previous_epoch) {
        violation(fmt::format("node {} appends {} after an entry of epoch {}, another log after epoch {}", node,
                              describe(entry), *previous, *it->second.previous_epoch));
    }
    if (!it->second.previous_epoch) {
        it->second.previous_epoch = previous;
    }
}

void safety_checker::on_apply(sim_node& node, const log_entry& entry) {
    if (entry.off != node.applied_end) {
        violation(fmt::format("node {} applies {} but has applied through {}", node.id, describe(entry), node.applied_end));
    }
    auto o = static_cast<size_t>(entry.off.value());
    if (o < _committed.size()) {
        // State-machine safety: the same entry at the same offset everywhere.
        if (!(_committed[o].entry == entry)) {
            violation(fmt::format("node {} applies {} where {} was applied", node.id, describe(entry),
                                  describe(_committed[o].entry)));
        }
    } else if (o == _committed.size()) {
        uint64_t before = o == 0 ? 0 : _committed[o - 1].digest_after;
        _committed.push_back(committed_record{entry, node.core->current_epoch(), chain(before, entry)});
        check_durable_majority(entry.off);
    } else {
        violation(fmt::format("node {} applies {} past everything committed ({})", node.id, describe(entry), _committed.size()));
    }
    node.digest = chain(node.digest, entry);
    if (node.digest != _committed[o].digest_after) {
        violation(fmt::format("node {} state after {} differs from the first node's", node.id, describe(entry)));
    }
    node.applied_end = entry.off + 1;
    node.last_applied_epoch = entry.ep;
}

void safety_checker::on_load_snapshot(sim_node& node, snapshot_id id, const std::string& data) {
    auto end = static_cast<size_t>(id.end_offset.value());
    if (end == 0 || end > _committed.size()) {
        violation(fmt::format("node {} loads snapshot {} beyond what was committed ({})", node.id, id, _committed.size()));
    }
    uint64_t digest = std::stoull(data);
    if (digest != _committed[end - 1].digest_after || _committed[end - 1].entry.ep != id.ep) {
        violation(fmt::format("node {} loads snapshot {} that is not the committed state", node.id, id));
    }
    node.digest = digest;
    node.applied_end = id.end_offset;
    node.last_applied_epoch = id.ep;
}

void safety_checker::check_durable_majority(offset o) {
    // Committed means on disk on a majority of voters: no crash can lose it.
    const log_entry& committed = _committed[static_cast<size_t>(o.value())].entry;
    size_t holders = 0;
    size_t voters = 0;
    for (const sim_node& n : _cluster.nodes()) {
        if (!n.voter) {
            continue;
        }
        ++voters;
        const memory_log& log = n.durable_log;
        if (o < log.start_offset() || (o < log.end_offset() && log.entry(o).ep == committed.ep)) {
            ++holders;
        }
    }
    if (holders < voters / 2 + 1) {
        violation(fmt::format("committed {} is durable on {} of {} voters", describe(committed), holders, voters));
    }
}

void safety_checker::on_durable_sync(const sim_node& node, offset lowest_changed) {
    for (int64_t o = std::max<int64_t>(lowest_changed.value(), 0); o < static_cast<int64_t>(_committed.size()); ++o) {
        check_durable_majority(offset{o});
    }
}

void safety_checker::check_leaders() {
    for (sim_node& n : _cluster.nodes()) {
        if (!n.up() || n.core->role() != raft_role::leader) {
            continue;
        }
        epoch e = n.core->current_epoch();
        auto [it, inserted] = _leaders.try_emplace(e, n.id);
        if (it->second != n.id) {
            violation(fmt::format("two leaders in epoch {}: nodes {} and {}", e, it->second, n.id));
        }
        if (!_checked_leaders.insert({e.value(), n.id.value()}).second) {
            continue;
        }
        // Leader completeness: everything committed in an earlier epoch is
        // in the new leader's log.
        const raft_log& log = n.core->log();
        for (const committed_record& c : _committed) {
            if (c.commit_epoch >= e || c.entry.off < log.start_offset()) {
                continue;
            }
            if (c.entry.off >= log.end_offset() || !(log.entry(c.entry.off) == c.entry)) {
                violation(fmt::format("leader {} of epoch {} lacks committed {}", n.id, e, describe(c.entry)));
            }
        }
    }
}

// ---- sim_cluster ----

sim_cluster::sim_cluster(sim_options options) : _options(options), _checker(*this), _random(options.seed) {
    int total = _options.voters + _options.observers;
    _nodes.resize(static_cast<size_t>(total));
    for (int i = 0; i < total; ++i) {
        _nodes[static_cast<size_t>(i)].id = node_id{i + 1};
        _nodes[static_cast<size_t>(i)].voter = i < _options.voters;
    }
    for (sim_node& n : _nodes) {
        start_core(n);
    }
}

sim_cluster::~sim_cluster() = default;

std::vector<node_id> sim_cluster::voter_ids() const {
    std::vector<node_id> ids;
    for (const sim_node& n : _nodes) {
        if (n.voter) {
            ids.push_back(n.id);
        }
    }
    return ids;
}

void sim_cluster::trace(const std::string& line) const {
    if (_options.trace) {
        std::cerr << fmt::format("[{:>6}] {}\n", _now, line);
    }
}

void sim_cluster::start_core(sim_node& n) {
    raft_config config;
    config.self = n.id;
    config.voters = voter_ids();
    config.election_timeout = _options.election_timeout;
    config.election_jitter = _options.election_jitter;
    config.fetch_timeout = _options.fetch_timeout;
    config.request_timeout = _options.request_timeout;
    config.retry_backoff = 5;
    config.fetch_interval = _options.fetch_interval;
    config.fetch_max_entries = _options.fetch_max_entries;
    config.snapshot_chunk_bytes = _options.snapshot_chunk_bytes;
    config.pre_vote = _options.pre_vote;
    config.seed = _options.seed * 1000003ULL + static_cast<uint64_t>(n.id.value()) * 7919ULL + n.incarnation;
    n.log = std::make_unique<checked_log>(_checker, n.id);
    n.log->inner = n.durable_log;
    n.log->inner.take_changes();
    n.applied_end = offset{0};
    n.last_applied_epoch = epoch{0};
    n.digest = 0;
    n.applied.clear();
    n.core = std::make_unique<raft_core>(config, *n.log, n.durable_state, _now);
    trace(fmt::format("node {} starts: epoch {} voted {} leader {}", n.id, n.durable_state.current_epoch,
                      n.durable_state.voted_for.value_or(node_id{-1}), n.durable_state.leader.value_or(node_id{-1})));
    run_actions(n);
}

void sim_cluster::run_actions(sim_node& n) {
    for (action& a : n.core->take_actions()) {
        if (auto* state = std::get_if<persist_quorum_state>(&a)) {
            n.durable_state = state->state;
        } else if (std::get_if<persist_log>(&a)) {
            auto changes = n.log->inner.take_changes();
            n.durable_log.sync_from(n.log->inner, changes);
            if (n.voter) {
                _checker.on_durable_sync(n, changes.lowest_changed);
            }
        } else if (auto* send = std::get_if<send_request>(&a)) {
            transmit(envelope{0, 0, n.id, send->to, n.incarnation, std::move(send->message), std::nullopt});
        } else if (auto* apply = std::get_if<apply_entries>(&a)) {
            for (const log_entry& e : apply->entries) {
                _checker.on_apply(n, e);
                n.applied.push_back(e);
            }
        } else if (auto* snapshot = std::get_if<apply_snapshot>(&a)) {
            _checker.on_load_snapshot(n, snapshot->id, snapshot->data);
        } else if (auto* changed = std::get_if<leader_changed>(&a)) {
            trace(fmt::format("node {}: epoch {} leader {} ({})", n.id, changed->ep,
                              changed->leader.value_or(node_id{-1}), to_string(n.core->role())));
        }
    }
    _checker.check_leaders();
}

bool sim_cluster::blocked(node_id from, node_id to) const { return _blocked.contains({from.value(), to.value()}); }

void sim_cluster::transmit(envelope message) {
    if (blocked(message.from, message.to)) {
        return;
    }
    std::uniform_real_distribution<double> coin(0, 1);
    if (_options.drop_rate > 0 && coin(_random) < _options.drop_rate) {
        return;
    }
    auto latency = [&] {
        return _options.min_latency +
               static_cast<millis>(_random() % static_cast<uint64_t>(_options.max_latency - _options.min_latency + 1));
    };
    if (_options.duplicate_rate > 0 && coin(_random) < _options.duplicate_rate) {
        envelope copy = message;
        copy.deliver_at = _now + latency();
        copy.sequence = _sequence++;
        _in_flight.push_back(std::move(copy));
        std::push_heap(_in_flight.begin(), _in_flight.end(), std::greater<>());
    }
    message.deliver_at = _now + latency();
    message.sequence = _sequence++;
    _in_flight.push_back(std::move(message));
    std::push_heap(_in_flight.begin(), _in_flight.end(), std::greater<>());
}

void sim_cluster::deliver(envelope message) {
    sim_node& to = node(message.to);
    if (!to.up() || blocked(message.from, message.to)) {
        return;
    }
    ++_delivered;
    if (message.response) {
        // A connection does not survive a restart: answers to the previous
        // incarnation's requests go nowhere.
        if (to.incarnation != message.requester_incarnation) {
            return;
        }
        to.core->handle_response(message.from, message.request, *message.response, _now);
        run_actions(to);
        return;
    }
    raft::response answer = to.core->handle_request(message.from, message.request, _now);
    run_actions(to);  // persisted before the answer leaves
    transmit(envelope{0, 0, message.to, message.from, message.requester_incarnation, std::move(message.request),
                      std::move(answer)});
}

void sim_cluster::advance(millis ms, millis tick_every) {
    millis target = _now + ms;
    while (_now < target) {
        millis next_tick = std::min(target, _now + tick_every);
        while (!_in_flight.empty() && _in_flight.front().deliver_at <= next_tick) {
            std::pop_heap(_in_flight.begin(), _in_flight.end(), std::greater<>());
            envelope message = std::move(_in_flight.back());
            _in_flight.pop_back();
            _now = std::max(_now, message.deliver_at);
            deliver(std::move(message));
        }
        _now = next_tick;
        for (sim_node& n : _nodes) {
            if (n.up()) {
                n.core->tick(_now);
                run_actions(n);
            }
        }
    }
}

bool sim_cluster::run_until(const std::function<bool()>& pred, millis limit, millis tick_every) {
    millis deadline = _now + limit;
    while (!pred()) {
        if (_now >= deadline) {
            return false;
        }
        advance(tick_every, tick_every);
    }
    return true;
}

std::optional<node_id> sim_cluster::leader() const {
    std::optional<node_id> best;
    epoch best_epoch{-1};
    for (const sim_node& n : _nodes) {
        if (n.up() && n.core->role() == raft_role::leader && n.core->current_epoch() > best_epoch) {
            best = n.id;
            best_epoch = n.core->current_epoch();
        }
    }
    return best;
}

std::optional<node_id> sim_cluster::wait_for_leader(millis limit) {
    run_until([&] { return leader().has_value(); }, limit);
    return leader();
}

std::optional<offset> sim_cluster::propose(node_id on, std::string data) {
    sim_node& n = node(on);
    if (!n.up()) {
        return std::nullopt;
    }
    auto result = n.core->propose(std::move(data), _now);
    run_actions(n);
    if (!result) {
        return std::nullopt;
    }
    return result.value();
}

bool sim_cluster::all_applied(offset through) {
    for (const sim_node& n : _nodes) {
        if (n.voter && n.up() && n.applied_end < through) {
            return false;
        }
    }
    return true;
}

bool sim_cluster::propose_and_commit(std::string data, millis limit) {
    millis deadline = _now + limit;
    while (_now < deadline) {
        auto leader_id = wait_for_leader(deadline - _now);
        if (!leader_id) {
            return false;
        }
        auto at = propose(*leader_id, data);
        if (!at) {
            continue;
        }
        epoch proposed_in = core(*leader_id).current_epoch();
        bool settled = run_until(
            [&] {
                if (_checker.committed() > static_cast<size_t>(at->value())) {
                    return true;
                }
                return !node(*leader_id).up() || core(*leader_id).current_epoch() != proposed_in;
            },
            deadline - _now);
        if (!settled) {
            return false;
        }
        if (_checker.committed() > static_cast<size_t>(at->value()) && _checker.committed_entry(*at).data == data) {
            return true;
        }
    }
    return false;
}

void sim_cluster::crash(node_id id) {
    sim_node& n = node(id);
    if (!n.up()) {
        return;
    }
    trace(fmt::format("node {} crashes", id));
    n.core.reset();
    n.log.reset();
    ++n.incarnation;
}

void sim_cluster::restart(node_id id) {
    sim_node& n = node(id);
    if (!n.up()) {
        start_core(n);
    }
}

void sim_cluster::take_snapshot(node_id id) {
    sim_node& n = node(id);
    if (!n.up() || n.applied_end <= n.log->start_offset()) {
        return;
    }
    auto result = n.core->snapshot_created(snapshot_id{n.applied_end, n.last_applied_epoch}, std::to_string(n.digest));
    if (!result) {
        throw std::logic_error(fmt::format("node {} refused its own snapshot at {}", id, n.applied_end));
    }
    trace(fmt::format("node {} snapshots through {}", id, n.applied_end));
    run_actions(n);
}

void sim_cluster::resign(node_id id) {
    sim_node& n = node(id);
    if (n.up()) {
        n.core->resign(_now);
        run_actions(n);
    }
}

void sim_cluster::isolate(node_id id) {
    for (const sim_node& n : _nodes) {
        if (n.id != id) {
            cut(id, n.id);
        }
    }
}

void sim_cluster::cut(node_id a, node_id b) {
    _blocked.insert({a.value(), b.value()});
    _blocked.insert({b.value(), a.value()});
}

void sim_cluster::split(const std::vector<node_id>& side) {
    for (const sim_node& n : _nodes) {
        bool in_side = std::find(side.begin(), side.end(), n.id) != side.end();
        if (!in_side) {
            continue;
        }
        for (const sim_node& other : _nodes) {
            if (std::find(side.begin(), side.end(), other.id) == side.end()) {
                cut(n.id, other.id);
            }
        }
    }
}

void sim_cluster::heal() { _blocked.clear(); }

void sim_cluster::set_faults(double drop_rate, double duplicate_rate, millis min_latency, millis max_latency) {
    _options.drop_rate = drop_rate;
    _options.duplicate_rate = duplicate_rate;
    _options.min_latency = min_latency;
    _options.max_latency = max_latency;
}

}  // namespace strata::raft::testing
