#include "txn_state.h"

#include <gtest/gtest.h>

namespace strata::txn {
namespace {

constexpr int32_t max_timeout = 900000;

txn_metadata initialised(int64_t pid = 1000, int16_t epoch = 0) {
    auto d = decide_init(nullptr, "t", 60000, max_timeout, -1, -1, 10);
    EXPECT_TRUE(d.needs_producer_id);
    d.next->producer_id = pid;
    d.next->producer_epoch = epoch;
    return *d.next;
}

txn_metadata ongoing(const txn_metadata& m, std::vector<txn_partition> parts, int64_t now = 100) {
    auto d = decide_add_partitions(&m, m.producer_id, m.producer_epoch, parts, now);
    EXPECT_EQ(d.error, kafka_error::none);
    EXPECT_TRUE(d.next);
    return *d.next;
}

TEST(txn_state, transitions_kafka_allows_and_refuses) {
    using enum txn_state;
    EXPECT_TRUE(valid_transition(empty, ongoing));
    EXPECT_TRUE(valid_transition(ongoing, prepare_commit));
    EXPECT_TRUE(valid_transition(ongoing, prepare_abort));
    EXPECT_TRUE(valid_transition(prepare_commit, complete_commit));
    EXPECT_TRUE(valid_transition(prepare_abort, complete_abort));
    EXPECT_TRUE(valid_transition(complete_commit, ongoing));
    EXPECT_TRUE(valid_transition(complete_abort, empty));
    EXPECT_FALSE(valid_transition(empty, prepare_commit));
    EXPECT_FALSE(valid_transition(prepare_commit, complete_abort));
    EXPECT_FALSE(valid_transition(prepare_abort, ongoing));
    EXPECT_FALSE(valid_transition(complete_commit, prepare_commit));
    EXPECT_FALSE(valid_transition(ongoing, empty));
}

TEST(txn_state, init_checks_the_timeout_and_allocates_then_bumps) {
    EXPECT_EQ(decide_init(nullptr, "t", max_timeout + 1, max_timeout, -1, -1, 0).error,
              kafka_error::invalid_transaction_timeout);
    EXPECT_EQ(decide_init(nullptr, "t", 0, max_timeout, -1, -1, 0).error, kafka_error::invalid_transaction_timeout);
    EXPECT_EQ(decide_init(nullptr, "", 1000, max_timeout, -1, -1, 0).error, kafka_error::invalid_request);
    auto m = initialised();
    EXPECT_EQ(m.state, txn_state::empty);
    auto again = decide_init(&m, "t", 1000, max_timeout, -1, -1, 20);
    ASSERT_EQ(again.error, kafka_error::none);
    EXPECT_FALSE(again.needs_producer_id);
    EXPECT_EQ(again.next->producer_id, 1000);
    EXPECT_EQ(again.next->producer_epoch, 1);
    EXPECT_EQ(again.next->timeout_ms, 1000);
    // KIP-360: a retry naming the previous epoch gets the same epoch again;
    // another producer id is fenced.
    auto bumped = *again.next;
    EXPECT_EQ(decide_init(&bumped, "t", 1000, max_timeout, 1000, 0, 30).next->producer_epoch, 1);
    EXPECT_EQ(decide_init(&bumped, "t", 1000, max_timeout, 77, 0, 30).error, kafka_error::producer_fenced);
}

TEST(txn_state, init_with_an_open_transaction_fences_and_aborts_it) {
    auto m = ongoing(initialised(1000, 3), {{"a", 0}});
    auto d = decide_init(&m, "t", 60000, max_timeout, -1, -1, 50);
    EXPECT_EQ(d.error, kafka_error::concurrent_transactions);
    ASSERT_TRUE(d.abort_open);
    EXPECT_EQ(d.next->state, txn_state::prepare_abort);
    EXPECT_EQ(d.next->producer_epoch, 4);
    EXPECT_EQ(d.next->partitions.size(), 1u);
    // The old producer (epoch 3) is now fenced everywhere.
    EXPECT_EQ(decide_end(&*d.next, 1000, 3, true, 60).error, kafka_error::producer_fenced);
    EXPECT_EQ(decide_add_partitions(&*d.next, 1000, 3, {{"b", 0}}, 60).error, kafka_error::producer_fenced);
    // While the abort is being finished, a new InitProducerId waits.
    EXPECT_EQ(decide_init(&*d.next, "t", 60000, max_timeout, -1, -1, 60).error, kafka_error::concurrent_transactions);
    auto done = complete(*d.next, 70);
    EXPECT_EQ(done.state, txn_state::complete_abort);
    auto next = decide_init(&done, "t", 60000, max_timeout, -1, -1, 80);
    ASSERT_EQ(next.error, kafka_error::none);
    EXPECT_EQ(next.next->producer_epoch, 5);
}

TEST(txn_state, exhausted_epoch_rotates_the_producer_id) {
    auto m = initialised(1000, max_producer_epoch);
    auto d = decide_init(&m, "t", 60000, max_timeout, -1, -1, 20);
    ASSERT_EQ(d.error, kafka_error::none);
    EXPECT_TRUE(d.needs_producer_id);
    EXPECT_EQ(d.next->producer_epoch, 0);
    EXPECT_EQ(d.next->last_producer_id, 1000);
}

TEST(txn_state, add_partitions_opens_and_extends_the_transaction) {
    auto m = initialised();
    EXPECT_EQ(decide_add_partitions(&m, 999, 0, {{"a", 0}}, 100).error, kafka_error::invalid_producer_id_mapping);
    EXPECT_EQ(decide_add_partitions(nullptr, 1000, 0, {{"a", 0}}, 100).error, kafka_error::invalid_producer_id_mapping);
    EXPECT_EQ(decide_add_partitions(&m, 1000, 1, {{"a", 0}}, 100).error, kafka_error::producer_fenced);
    auto o = ongoing(m, {{"a", 0}, {"a", 1}}, 100);
    EXPECT_EQ(o.state, txn_state::ongoing);
    EXPECT_EQ(o.start_ms, 100);
    // Already there: nothing to write.
    auto same = decide_add_partitions(&o, 1000, 0, {{"a", 1}}, 200);
    EXPECT_EQ(same.error, kafka_error::none);
    EXPECT_FALSE(same.next);
    auto more = ongoing(o, {{"b", 0}}, 200);
    EXPECT_EQ(more.partitions.size(), 3u);
    EXPECT_EQ(more.start_ms, 100);
    EXPECT_EQ(verify_partition(&more, 1000, 0, {"b", 0}), kafka_error::none);
    EXPECT_EQ(verify_partition(&more, 1000, 0, {"c", 0}), kafka_error::invalid_txn_state);
    EXPECT_EQ(verify_partition(&m, 1000, 0, {"a", 0}), kafka_error::invalid_txn_state);
    EXPECT_EQ(verify_partition(&more, 1000, 1, {"a", 0}), kafka_error::producer_fenced);
}

TEST(txn_state, end_prepares_then_completes_and_retries_are_answered) {
    auto m = initialised();
    EXPECT_EQ(decide_end(&m, 1000, 0, true, 10).error, kafka_error::invalid_txn_state);  // Empty
    auto o = ongoing(m, {{"a", 0}});
    auto prepare = decide_end(&o, 1000, 0, true, 300);
    ASSERT_TRUE(prepare.next);
    EXPECT_EQ(prepare.next->state, txn_state::prepare_commit);
    auto& p = *prepare.next;
    EXPECT_EQ(decide_end(&p, 1000, 0, true, 310).error, kafka_error::concurrent_transactions);
    EXPECT_EQ(decide_end(&p, 1000, 0, false, 310).error, kafka_error::invalid_txn_state);
    EXPECT_EQ(decide_add_partitions(&p, 1000, 0, {{"a", 0}}, 310).error, kafka_error::concurrent_transactions);
    auto c = complete(p, 320);
    EXPECT_EQ(c.state, txn_state::complete_commit);
    EXPECT_TRUE(c.partitions.empty());
    auto retry = decide_end(&c, 1000, 0, true, 330);
    EXPECT_EQ(retry.error, kafka_error::none);
    EXPECT_FALSE(retry.next);
    EXPECT_EQ(decide_end(&c, 1000, 0, false, 330).error, kafka_error::invalid_txn_state);
    // The next transaction starts from CompleteCommit.
    auto again = ongoing(c, {{"b", 0}}, 400);
    EXPECT_EQ(again.start_ms, 400);
    auto abort = decide_end(&again, 1000, 0, false, 410);
    EXPECT_EQ(abort.next->state, txn_state::prepare_abort);
    EXPECT_EQ(complete(*abort.next, 420).state, txn_state::complete_abort);
}

TEST(txn_state, timeout_aborts_at_a_bumped_epoch) {
    auto o = ongoing(initialised(), {{"a", 0}}, 1000);  // timeout 60 s
    EXPECT_FALSE(decide_timeout_abort(o, 61000));
    auto aborted = decide_timeout_abort(o, 61001);
    ASSERT_TRUE(aborted);
    EXPECT_EQ(aborted->state, txn_state::prepare_abort);
    EXPECT_EQ(aborted->producer_epoch, 1);
    EXPECT_FALSE(decide_timeout_abort(initialised(), 1'000'000));
}

TEST(txn_state, only_idle_ids_expire) {
    auto idle = initialised();  // Empty, last updated at 10
    ASSERT_EQ(idle.update_ms, 10);
    EXPECT_FALSE(should_expire(idle, 1009, 1000));
    EXPECT_TRUE(should_expire(idle, 1010, 1000));
    auto o = ongoing(idle, {{"a", 0}}, 0);
    EXPECT_FALSE(should_expire(o, 1'000'000, 1000));  // a transaction is open
    auto prepared = decide_end(&o, o.producer_id, o.producer_epoch, true, 0).next;
    ASSERT_TRUE(prepared);
    EXPECT_FALSE(should_expire(*prepared, 1'000'000, 1000));  // its markers are not all written
    auto done = complete(*prepared, 5000);
    EXPECT_FALSE(should_expire(done, 5999, 1000));
    EXPECT_TRUE(should_expire(done, 6000, 1000));
}

TEST(txn_state, records_round_trip_in_kafkas_format) {
    auto o = ongoing(initialised(4242, 7), {{"a", 0}, {"a", 2}, {"b", 1}}, 1234);
    auto r = encode_record(o);
    // TransactionLogKey v0: version, then the id as a (non-compact) string.
    ASSERT_GE(r.key.size(), 5u);
    EXPECT_EQ(r.key[0], 0);
    EXPECT_EQ(r.key[1], 0);
    EXPECT_EQ(r.key[3], 1);
    EXPECT_EQ(r.key[4], 't');
    ASSERT_TRUE(r.value);
    std::optional<std::span<const uint8_t>> value = std::span<const uint8_t>(*r.value);
    auto decoded = decode_record(r.key, value);
    ASSERT_TRUE(decoded && decoded->metadata);
    auto m = *decoded->metadata;
    EXPECT_EQ(m.producer_id, 4242);
    EXPECT_EQ(m.producer_epoch, 7);
    EXPECT_EQ(m.state, txn_state::ongoing);
    EXPECT_EQ(m.partitions, o.partitions);
    EXPECT_EQ(m.start_ms, 1234);
    EXPECT_EQ(m.timeout_ms, 60000);
    auto empty = encode_record(initialised());
    auto e = decode_record(empty.key, std::span<const uint8_t>(*empty.value));
    EXPECT_TRUE(e->metadata->partitions.empty());
    auto tombstone = decode_record(r.key, std::nullopt);
    ASSERT_TRUE(tombstone);
    EXPECT_FALSE(tombstone->metadata);
}

}  // namespace
}  // namespace strata::txn
