#!/usr/bin/python3
"""Transactions (KIP-98) with confluent-kafka-python (librdkafka) against
real stratad processes: a committed transaction is visible to read_committed
consumers and an aborted one only to read_uncommitted ones; a second
producer with the same transactional.id fences the first and its open
transaction is aborted; consume-transform-produce with
send_offsets_to_transaction commits the group's offsets with the output;
an open transaction past its timeout is aborted by the coordinator; and on
three nodes the transaction coordinator is killed (SIGKILL) mid-stream and a
new transaction then works, with nothing lost or duplicated."""

import time
import uuid

from harness import Broker, Cluster, run_tests

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

FAST = {"STRATA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "STRATA_TRANSACTION_STATE_LOG_NUM_PARTITIONS": "5",
        "STRATA_OFFSETS_TOPIC_NUM_PARTITIONS": "5"}


def create_topic(bootstrap, name, partitions, rf=1, configs=None):
    client = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + 20
    while True:
        topic = NewTopic(name, num_partitions=partitions, replication_factor=rf, config=configs or {})
        try:
            client.create_topics([topic])[name].result(timeout=20)
            return
        except KafkaException as e:
            # A cluster whose brokers are still registering.
            if e.args[0].code() != KafkaError.INVALID_REPLICATION_FACTOR or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def txn_producer(bootstrap, txn_id, **extra):
    config = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5}
    config.update(extra)
    producer = Producer(config)
    producer.init_transactions(30)
    return producer


def consume_all(bootstrap, topic, isolation, expect_at_least=0, timeout=15.0, idle=2.0):
    """Every value in `topic`, read from the start with `isolation`; returns
    once at least `expect_at_least` were read and nothing more came for `idle` s."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": isolation})
    consumer.subscribe([topic])
    values = []
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if len(values) >= expect_at_least and time.monotonic() - last > idle:
                    break
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(msg.error())
            values.append(msg.value().decode())
            last = time.monotonic()
    finally:
        consumer.close()
    return values


def test_commit_visible_abort_invisible_to_read_committed():
    with Broker(extra_env=FAST) as broker:
        create_topic(broker.bootstrap, "t1", 2)
        producer = txn_producer(broker.bootstrap, "txn-a")
        producer.begin_transaction()
        for i in range(20):
            producer.produce("t1", value=f"c{i}".encode(), partition=i % 2)
        producer.commit_transaction(30)
        producer.begin_transaction()
        for i in range(15):
            producer.produce("t1", value=f"a{i}".encode(), partition=i % 2)
        producer.flush(30)
        producer.abort_transaction(30)
        producer.begin_transaction()
        for i in range(5):
            producer.produce("t1", value=f"d{i}".encode(), partition=i % 2)
        producer.commit_transaction(30)
        committed = consume_all(broker.bootstrap, "t1", "read_committed", expect_at_least=25)
        assert sorted(committed) == sorted([f"c{i}" for i in range(20)] + [f"d{i}" for i in range(5)]), committed
        everything = consume_all(broker.bootstrap, "t1", "read_uncommitted", expect_at_least=40)
        assert sorted(everything) == sorted([f"c{i}" for i in range(20)] + [f"a{i}" for i in range(15)] +
                                            [f"d{i}" for i in range(5)]), everything
        # ListOffsets: with read_committed the LSO, which is the end here
        # (every transaction is closed; markers take an offset each).
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "lso",
                             "isolation.level": "read_committed"})
        low, high = consumer.get_watermark_offsets(TopicPartition("t1", 0), timeout=10, cached=False)
        consumer.close()
        assert high == 10 + 1 + 8 + 1 + 3 + 1, (low, high)


def test_aborted_transactions_stay_invisible_after_a_crash():
    with Broker(extra_env=FAST) as broker:
        create_topic(broker.bootstrap, "t5", 1)
        producer = txn_producer(broker.bootstrap, "txn-crash")
        for t in range(4):
            producer.begin_transaction()
            for i in range(5):
                producer.produce("t5", value=f"{t}-{i}".encode())
            producer.flush(10)
            if t % 2:
                producer.abort_transaction(30)
            else:
                producer.commit_transaction(30)
        broker.kill()  # SIGKILL: the partition's transaction state comes back from the log
        broker.start().wait_ready()
        committed = consume_all(broker.bootstrap, "t5", "read_committed", expect_at_least=10)
        assert committed == [f"{t}-{i}" for t in (0, 2) for i in range(5)], committed
        assert len(consume_all(broker.bootstrap, "t5", "read_uncommitted", expect_at_least=20)) == 20
        # The coordinator reloaded the id: a new producer bumps its epoch.
        again = txn_producer(broker.bootstrap, "txn-crash")
        again.begin_transaction()
        again.produce("t5", value=b"after")
        again.commit_transaction(30)
        assert consume_all(broker.bootstrap, "t5", "read_committed", expect_at_least=11)[-1] == "after"


def test_open_transaction_holds_back_read_committed():
    with Broker(extra_env=FAST) as broker:
        create_topic(broker.bootstrap, "t2", 1)
        plain = Producer({"bootstrap.servers": broker.bootstrap})
        plain.produce("t2", value=b"before")
        plain.flush(10)
        producer = txn_producer(broker.bootstrap, "txn-open")
        producer.begin_transaction()
        producer.produce("t2", value=b"inside")
        producer.flush(10)
        plain.produce("t2", value=b"after")  # behind the open transaction
        plain.flush(10)
        assert consume_all(broker.bootstrap, "t2", "read_committed", expect_at_least=1, timeout=5) == ["before"]
        assert sorted(consume_all(broker.bootstrap, "t2", "read_uncommitted", expect_at_least=3)) == \
            ["after", "before", "inside"]
        producer.commit_transaction(30)
        assert consume_all(broker.bootstrap, "t2", "read_committed", expect_at_least=3) == ["before", "inside", "after"]


def test_second_producer_fences_the_first_and_aborts_its_transaction():
    with Broker(extra_env=FAST) as broker:
        create_topic(broker.bootstrap, "t3", 1)
        first = txn_producer(broker.bootstrap, "txn-fence")
        first.begin_transaction()
        first.produce("t3", value=b"zombie")
        first.flush(10)
        second = txn_producer(broker.bootstrap, "txn-fence")  # fences `first`, aborts its transaction
        second.begin_transaction()
        second.produce("t3", value=b"fresh")
        second.commit_transaction(30)
        fenced = None
        try:
            first.produce("t3", value=b"late")
            first.commit_transaction(10)
        except KafkaException as e:
            fenced = e.args[0]
        assert fenced is not None, "the fenced producer committed"
        assert fenced.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH), \
            fenced
        assert consume_all(broker.bootstrap, "t3", "read_committed", expect_at_least=1) == ["fresh"]
        assert sorted(consume_all(broker.bootstrap, "t3", "read_uncommitted", expect_at_least=2)) == \
            ["fresh", "zombie"]


def test_transaction_timeout_aborts():
    env = dict(FAST, STRATA_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS="200")
    with Broker(extra_env=env) as broker:
        create_topic(broker.bootstrap, "t4", 1)
        producer = txn_producer(broker.bootstrap, "txn-slow", **{"transaction.timeout.ms": 2000})
        producer.begin_transaction()
        producer.produce("t4", value=b"stuck")
        producer.flush(10)
        plain = Producer({"bootstrap.servers": broker.bootstrap})
        plain.produce("t4", value=b"later")
        plain.flush(10)
        # Not blocked past the timeout: the coordinator aborts it.
        start = time.monotonic()
        values = consume_all(broker.bootstrap, "t4", "read_committed", expect_at_least=1, timeout=15, idle=1.0)
        assert values == ["later"], values
        assert time.monotonic() - start < 10
        try:
            producer.commit_transaction(10)
            raise AssertionError("a timed-out transaction committed")
        except KafkaException:
            pass


def test_invalid_transaction_timeout_is_refused():
    with Broker(extra_env=FAST) as broker:
        producer = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "too-long",
                             "transaction.timeout.ms": 900001})
        try:
            producer.init_transactions(10)
            raise AssertionError("init_transactions accepted a timeout above transaction.max.timeout.ms")
        except KafkaException as e:
            assert e.args[0].code() == KafkaError.INVALID_TRANSACTION_TIMEOUT, e


def copy_with_offsets(bootstrap, source, sink, group, txn_id, count, batch=100, abort_first=False):
    """Consume-transform-produce: reads `source` in `group`, writes each value
    upper-cased to `sink` and commits the input offsets in the same
    transaction."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    consumer.subscribe([source])
    producer = txn_producer(bootstrap, txn_id)
    copied = 0
    aborted_once = not abort_first
    deadline = time.monotonic() + 60
    try:
        while copied < count and time.monotonic() < deadline:
            msgs = consumer.consume(batch, 1.0)
            msgs = [m for m in msgs if not m.error()]
            if not msgs:
                continue
            producer.begin_transaction()
            for m in msgs:
                producer.produce(sink, value=m.value().upper(), partition=m.partition())
            producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                                 consumer.consumer_group_metadata(), 30)
            if not aborted_once:
                producer.abort_transaction(30)
                aborted_once = True
                # Back to the committed offsets: the aborted batch is read again.
                committed = consumer.committed(consumer.assignment(), timeout=10)
                for tp in committed:
                    consumer.seek(TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else 0))
                continue
            producer.commit_transaction(30)
            copied += len(msgs)
    finally:
        consumer.close()
    return copied


def test_consume_transform_produce_commits_offsets_with_the_output():
    with Broker(extra_env=FAST) as broker:
        create_topic(broker.bootstrap, "in", 2)
        create_topic(broker.bootstrap, "out", 2)
        plain = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
        for i in range(300):
            plain.produce("in", value=f"v{i}".encode(), partition=i % 2)
        plain.flush(10)
        copied = copy_with_offsets(broker.bootstrap, "in", "out", "ctp", "txn-ctp", 300, abort_first=True)
        assert copied == 300, copied
        out = consume_all(broker.bootstrap, "out", "read_committed", expect_at_least=300)
        assert sorted(out) == sorted(f"V{i}" for i in range(300)), (len(out), len(set(out)))
        # The group's committed offsets are the input's ends.
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "ctp"})
        committed = consumer.committed([TopicPartition("in", 0), TopicPartition("in", 1)], timeout=10)
        consumer.close()
        assert [tp.offset for tp in committed] == [150, 150], committed


def test_txn_offsets_invisible_until_commit_and_dropped_on_abort():
    with Broker(extra_env=FAST) as broker:
        create_topic(broker.bootstrap, "src", 1)
        producer = txn_producer(broker.bootstrap, "txn-offsets")
        reader = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "g-offsets"})
        tp = [TopicPartition("src", 0)]
        meta = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "g-offsets"}).consumer_group_metadata()
        producer.begin_transaction()
        producer.send_offsets_to_transaction([TopicPartition("src", 0, 42)], meta, 30)
        producer.abort_transaction(30)
        # librdkafka retries UNSTABLE_OFFSET_COMMIT until the abort markers are
        # written; 10 s ran out once with four tests beside this one at load 20.
        assert reader.committed(tp, timeout=30)[0].offset < 0  # dropped
        producer.begin_transaction()
        producer.send_offsets_to_transaction([TopicPartition("src", 0, 7)], meta, 30)
        # Pending until the commit (librdkafka asks with require_stable and
        # retries UNSTABLE_OFFSET_COMMIT; a plain fetch sees the old value).
        producer.commit_transaction(30)
        assert reader.committed(tp, timeout=10)[0].offset == 7
        reader.close()


def test_coordinator_killed_in_a_three_node_cluster():
    env = dict(FAST, STRATA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="3", STRATA_TRANSACTION_STATE_LOG_MIN_ISR="2",
               STRATA_OFFSETS_TOPIC_REPLICATION_FACTOR="3")
    with Cluster(3, extra_env=env) as cluster:
        for node in cluster.nodes:
            node.wait_ready(20)
        bootstrap = ",".join(n.bootstrap for n in cluster.nodes)
        create_topic(bootstrap, "rt", 3, rf=3, configs={"min.insync.replicas": "2"})
        producer = txn_producer(bootstrap, "txn-ha")
        sent = []
        for t in range(5):
            producer.begin_transaction()
            for i in range(20):
                value = f"x{t}-{i}"
                producer.produce("rt", value=value.encode(), partition=i % 3)
                sent.append(value)
            producer.commit_transaction(30)
        # The coordinator: FindCoordinator(TRANSACTION) names it.
        admin = AdminClient({"bootstrap.servers": bootstrap})
        coordinator_id = find_txn_coordinator(cluster, "txn-ha")
        # Mid-stream: a transaction open, then its coordinator dies.
        producer.begin_transaction()
        for i in range(20):
            producer.produce("rt", value=f"lost{i}".encode(), partition=i % 3)
        producer.flush(30)
        cluster.node(coordinator_id).kill()
        try:
            producer.commit_transaction(60)
            committed_open = True
        except KafkaException as e:
            committed_open = False
            if e.args[0].txn_requires_abort():
                producer.abort_transaction(60)
            else:
                raise
        if committed_open:
            sent += [f"lost{i}" for i in range(20)]
        # A new transaction works on the new coordinator.
        producer.begin_transaction()
        for i in range(20):
            value = f"after{i}"
            producer.produce("rt", value=value.encode(), partition=i % 3)
            sent.append(value)
        producer.commit_transaction(60)
        cluster.node(coordinator_id).start()
        survivors = ",".join(n.bootstrap for n in cluster.nodes if n.node_id != coordinator_id)
        values = consume_all(survivors, "rt", "read_committed", expect_at_least=len(sent), timeout=40)
        assert sorted(values) == sorted(sent), (len(values), len(sent), sorted(set(values) ^ set(sent))[:10])
        del admin


def test_consume_transform_produce_survives_a_coordinator_kill_on_three_nodes():
    env = dict(FAST, STRATA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="3", STRATA_TRANSACTION_STATE_LOG_MIN_ISR="2",
               STRATA_OFFSETS_TOPIC_REPLICATION_FACTOR="3")
    total = 2000
    with Cluster(3, extra_env=env) as cluster:
        for node in cluster.nodes:
            node.wait_ready(20)
        bootstrap = ",".join(n.bootstrap for n in cluster.nodes)
        create_topic(bootstrap, "a", 3, rf=3, configs={"min.insync.replicas": "2"})
        create_topic(bootstrap, "b", 3, rf=3, configs={"min.insync.replicas": "2"})
        plain = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
        for i in range(total):
            plain.produce("a", value=f"r{i}".encode(), partition=i % 3)
        assert plain.flush(30) == 0
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "ctp3", "auto.offset.reset": "earliest",
                             "enable.auto.commit": False, "isolation.level": "read_committed"})
        consumer.subscribe(["a"])
        producer = txn_producer(bootstrap, "txn-ctp3")
        killed = None
        committed_txns = 0
        deadline = time.monotonic() + 120
        done = 0
        while done < total and time.monotonic() < deadline:
            msgs = [m for m in consumer.consume(100, 1.0) if not m.error()]
            if not msgs:
                continue
            try:
                producer.begin_transaction()
                for m in msgs:
                    producer.produce("b", value=m.value().upper(), partition=m.partition())
                if committed_txns == 5 and killed is None:
                    killed = find_txn_coordinator(cluster, "txn-ctp3")
                    cluster.node(killed).kill()  # mid-transaction
                producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                                     consumer.consumer_group_metadata(), 60)
                producer.commit_transaction(60)
                committed_txns += 1
                done += len(msgs)
            except KafkaException as e:
                if not e.args[0].txn_requires_abort():
                    raise
                producer.abort_transaction(60)
                committed = consumer.committed(consumer.assignment(), timeout=30)
                for tp in committed:
                    consumer.seek(TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else 0))
                done = sum(max(tp.offset, 0) for tp in committed)
        consumer.close()
        assert killed is not None
        cluster.node(killed).start()
        out = consume_all(bootstrap, "b", "read_committed", expect_at_least=total, timeout=60)
        assert sorted(out) == sorted(f"R{i}" for i in range(total)), (len(out), len(set(out)))
        check = Consumer({"bootstrap.servers": bootstrap, "group.id": "ctp3"})
        offsets = check.committed([TopicPartition("a", p) for p in range(3)], timeout=30)
        check.close()
        assert sum(tp.offset for tp in offsets) == total, offsets


def find_txn_coordinator(cluster, txn_id):
    """The node id FindCoordinator(TRANSACTION) names, with kafka-python's
    protocol classes over a raw socket."""
    import socket
    from kafka.protocol.api import RequestHeader
    from kafka.protocol.commit import GroupCoordinatorRequest_v1
    request = GroupCoordinatorRequest_v1(txn_id, 1)
    header = RequestHeader(request, correlation_id=1, client_id="test")
    payload = header.encode() + request.encode()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        node = cluster.running()[0]
        with socket.create_connection(("127.0.0.1", node.port), timeout=5) as sock:
            sock.sendall(len(payload).to_bytes(4, "big") + payload)
            size = int.from_bytes(sock.recv(4, socket.MSG_WAITALL), "big")
            frame = sock.recv(size, socket.MSG_WAITALL)
        # FindCoordinator v1: correlation id, throttle_time_ms, error_code,
        # error_message (nullable string), node_id (kafka-python's v1 schema
        # lacks the throttle time, so it is read here by hand).
        error = int.from_bytes(frame[8:10], "big", signed=True)
        length = int.from_bytes(frame[10:12], "big", signed=True)
        at = 12 + max(length, 0)
        if error == 0:
            return int.from_bytes(frame[at:at + 4], "big", signed=True)
        time.sleep(0.2)
    raise AssertionError("no transaction coordinator")


if __name__ == "__main__":
    run_tests([
        test_commit_visible_abort_invisible_to_read_committed,
        test_open_transaction_holds_back_read_committed,
        test_aborted_transactions_stay_invisible_after_a_crash,
        test_second_producer_fences_the_first_and_aborts_its_transaction,
        test_transaction_timeout_aborts,
        test_invalid_transaction_timeout_is_refused,
        test_consume_transform_produce_commits_offsets_with_the_output,
        test_txn_offsets_invisible_until_commit_and_dropped_on_abort,
        test_coordinator_killed_in_a_three_node_cluster,
        test_consume_transform_produce_survives_a_coordinator_kill_on_three_nodes,
    ])
