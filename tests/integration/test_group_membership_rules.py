#!/usr/bin/python3
"""Group coordinator rules that librdkafka's own test suite (tests/compat)
exercises, checked here with real clients: a static leader restarting with
JoinGroup before v9 (librdkafka, confluent-kafka) is not told it leads, so
it runs no assignment and nobody rebalances (KIP-345, 0102); commits from a
member that left or from an old generation are refused, so a zombie cannot
overwrite the new owner's offsets (0118); group.initial.rebalance.delay.ms
holds the first generation open on a three-node cluster, so consumers that
subscribe within it share one generation (0113, 0118); a static member's
group is empty the moment its session runs out (0081)."""

import logging
import socket
import threading
import time

from harness import Broker, Cluster, _recv_exactly, registered_brokers, run_tests

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient
from kafka.protocol.api import RequestHeader
from kafka.protocol.commit import OffsetCommitRequest_v2

from test_consumer_groups import FAST_GROUPS, GroupMember, create_topic, wait_for


class LogLines(logging.Handler):
    """librdkafka's debug log of one consumer, line by line."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_a_static_leader_restarting_with_joingroup_v5_is_not_told_it_leads_and_nobody_rebalances():
    with Broker(extra_env=FAST_GROUPS) as broker:
        create_topic(broker, "static-leader", 6)
        seen, lock = [], threading.Lock()
        static = {"session.timeout.ms": 10000}
        leader = GroupMember(broker, "static-leader", "statics", seen, lock, dict(static, **{"group.instance.id": "one"}))
        leader.start()
        wait_for(lambda: leader.assigned == set(range(6)), 20, "the first member (the leader) to own everything")
        other = GroupMember(broker, "static-leader", "statics", seen, lock, dict(static, **{"group.instance.id": "two"}))
        other.start()
        wait_for(lambda: len(leader.assigned) == 3 and len(other.assigned) == 3, 20, "a 3/3 split")
        time.sleep(1)
        rebalances_before = len(other.assignments)
        owned_by_leader = set(leader.assigned)
        leader.stop()  # a static member's close sends no LeaveGroup

        logger = logging.getLogger("restarted-leader")
        log = LogLines()
        logger.addHandler(log)
        logger.setLevel(logging.DEBUG)
        restarted = GroupMember(broker, "static-leader", "statics", seen, lock,
                                dict(static, **{"group.instance.id": "one", "debug": "cgrp", "logger": logger}))
        restarted.start()
        wait_for(lambda: restarted.assigned, 20, "the restarted leader's assignment")
        assert restarted.assigned == owned_by_leader, (restarted.assigned, owned_by_leader)
        time.sleep(2)
        assert len(other.assignments) == rebalances_before, f"the other member rebalanced: {other.assignments}"
        joins = [line for line in log.lines if "JoinGroup response" in line]
        assert joins, "no JoinGroup response in the restarted member's debug log"
        # Kafka answers a pre-v9 rejoin with the leader id from before it, not
        # the member's new id: librdkafka then runs no assignor of its own.
        assert not any("I am elected leader" in line for line in log.lines), joins
        assert not any("(me)" in line.split("LeaderId", 1)[1].split(",", 1)[0] for line in joins), joins
        restarted.stop()
        other.stop()
        assert not leader.errors and not other.errors and not restarted.errors


def _commit_v2(port, group, generation, member_id, topic, partition, offset):
    """OffsetCommit v2 (kafka-python's encoding) naming an explicit generation
    and member id; returns the partition's error code."""
    request = OffsetCommitRequest_v2(consumer_group=group, consumer_group_generation_id=generation,
                                     consumer_id=member_id, retention_time=-1,
                                     topics=[(topic, [(partition, offset, "")])])
    header = RequestHeader(request, correlation_id=7, client_id="zombie")
    payload = header.encode() + request.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(len(payload).to_bytes(4, "big") + payload)
        frame = _recv_exactly(sock, int.from_bytes(_recv_exactly(sock, 4), "big"))
    response = request.RESPONSE_TYPE.decode(frame[4:])
    return response.topics[0][1][0][1]


def test_commits_from_a_member_that_left_or_from_an_old_generation_are_refused():
    unknown_member_id, illegal_generation = 25, 22
    with Broker(extra_env=FAST_GROUPS) as broker:
        create_topic(broker, "zombies", 2)
        config = {"bootstrap.servers": broker.bootstrap, "group.id": "zombies", "session.timeout.ms": 6000,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"}
        logger = logging.getLogger("zombie")
        log = LogLines()
        logger.addHandler(log)
        logger.setLevel(logging.DEBUG)
        first = Consumer(dict(config, debug="cgrp", logger=logger))
        first.subscribe(["zombies"])
        wait_for(lambda: first.poll(0.2) is None and len(first.assignment()) == 2, 20, "the first member's assignment")
        # confluent-kafka 1.x has no memberid(): librdkafka's log names it.
        joined = [line for line in log.lines if "JoinGroup response: GenerationId" in line and "my MemberId " in line]
        member_id = joined[-1].split("my MemberId ", 1)[1].split(",", 1)[0]
        # confluent-kafka 1.x exposes no generation: the coordinator accepts
        # exactly one, and refuses the others with ILLEGAL_GENERATION.
        answers = {g: _commit_v2(broker.port, "zombies", g, member_id, "zombies", 0, 5) for g in range(1, 6)}
        accepted = [g for g, error in answers.items() if error == 0]
        assert len(accepted) == 1 and all(e in (0, illegal_generation) for e in answers.values()), answers
        generation = accepted[0]
        second = Consumer(config)
        second.subscribe(["zombies"])
        wait_for(lambda: (first.poll(0.2), second.poll(0.2)) and len(first.assignment()) == 1
                 and len(second.assignment()) == 1, 30, "a rebalance to two members")
        # The same member with its previous generation: a zombie's commit.
        assert _commit_v2(broker.port, "zombies", generation, member_id, "zombies", 0, 9) == illegal_generation
        first.close()  # LeaveGroup: its member id is gone
        wait_for(lambda: second.poll(0.2) is None and len(second.assignment()) == 2, 30, "the survivor owning both")
        assert _commit_v2(broker.port, "zombies", generation + 1, member_id, "zombies", 0, 9) == unknown_member_id
        assert _commit_v2(broker.port, "zombies", -1, "", "zombies", 0, 9) == unknown_member_id  # group not Empty
        second.close()


def test_the_initial_rebalance_delay_puts_consumers_that_subscribe_together_in_one_generation_on_three_nodes():
    env = {"STRATA_GROUP_INITIAL_REBALANCE_DELAY_MS": "3000", "STRATA_NUM_PARTITIONS": "4",
           "STRATA_DEFAULT_REPLICATION_FACTOR": "3", "STRATA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3",
           "STRATA_MIN_INSYNC_REPLICAS": "1"}
    with Cluster(3, extra_env=env) as cluster:
        for node in cluster.nodes:
            node.wait_ready(30)
        bootstrap = ",".join(n.bootstrap for n in cluster.nodes)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        wait_for(lambda: registered_brokers(admin) == 3, 30, "all three brokers registered")
        admin.create_topics([NewTopic("together", num_partitions=4, replication_factor=3)])["together"].result(30)
        events = []

        def consumer(name):
            c = Consumer({"bootstrap.servers": bootstrap, "group.id": "together", "session.timeout.ms": 6000})
            c.subscribe(["together"],
                        on_assign=lambda _, parts: events.append((name, "assign", len(parts))),
                        on_revoke=lambda _, parts: events.append((name, "revoke", len(parts))))
            return c

        a = consumer("a")

        def a_joined():
            # a's JoinGroup is at the coordinator: the group lists it. (A
            # fixed sleep here was too short once under load: the first
            # FindCoordinator makes __consumer_offsets, RF 3, first.)
            a.poll(0.1)
            try:
                groups = kadmin.describe_consumer_groups(["together"])
            except Exception:  # noqa: BLE001 - coordinator still loading
                return False
            return bool(groups) and len(groups[0].members) == 1

        kadmin = KafkaAdminClient(bootstrap_servers=bootstrap)
        wait_for(a_joined, 30, "a in the group's first generation")
        b = consumer("b")  # within the 3 s the first generation stays open
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len([e for e in events if e[1] == "assign"]) < 2:
            a.poll(0.1)
            b.poll(0.1)
        time.sleep(1)
        a.poll(0.1)
        b.poll(0.1)
        assert sorted(events) == [("a", "assign", 2), ("b", "assign", 2)], events
        a.close()
        b.close()
        kadmin.close()


def test_a_static_members_group_is_empty_the_moment_its_session_runs_out():
    """A static member's close sends no LeaveGroup (KIP-345): it leaves when
    its session times out. Kafka's timers fire on the millisecond, so an
    admin request right after the deadline sees the group empty (librdkafka's
    0081 deletes such groups one second after closing consumers with a
    6 s session). The coordinator's periodic tick must not make that answer
    depend on when it last ran."""
    from kafka import KafkaAdminClient
    session_ms = 6000
    with Broker(extra_env=FAST_GROUPS) as broker:
        create_topic(broker, "static-expiry", 1)
        producer = Producer({"bootstrap.servers": broker.bootstrap})
        producer.produce("static-expiry", b"one")
        producer.flush(10)
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            failures = []
            for attempt in range(3):
                group = f"static-expiry-{attempt}"
                # Heartbeats far apart: the member's session restarts with the
                # commit just before close(), not with a heartbeat after it.
                consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                                     "group.instance.id": "only", "session.timeout.ms": session_ms,
                                     "heartbeat.interval.ms": 2000, "enable.auto.commit": False,
                                     "auto.offset.reset": "earliest"})
                consumer.subscribe(["static-expiry"])
                received = []

                def got_the_record():
                    message = consumer.poll(0.2)
                    if message is not None and not message.error():
                        received.append(message)
                    return received

                wait_for(got_the_record, 30, "the record")
                consumer.commit(asynchronous=False)
                consumer.close()
                # Everything the broker heard of the member came before close()
                # returned: its session ends at most session_ms after it.
                closed = time.monotonic()
                time.sleep(session_ms / 2000)
                described = admin.describe_consumer_groups([group])[0]
                assert len(described.members) == 1, described  # held for its session
                time.sleep(max(0.0, closed + session_ms / 1000 + 0.005 - time.monotonic()))
                code = admin.delete_consumer_groups([group])[0][1]
                if code.errno != 0:
                    failures.append((attempt, code))
            assert not failures, f"groups not empty right after the session timeout: {failures}"
        finally:
            admin.close()


if __name__ == "__main__":
    run_tests([
        test_a_static_leader_restarting_with_joingroup_v5_is_not_told_it_leads_and_nobody_rebalances,
        test_commits_from_a_member_that_left_or_from_an_old_generation_are_refused,
        test_the_initial_rebalance_delay_puts_consumers_that_subscribe_together_in_one_generation_on_three_nodes,
        test_a_static_members_group_is_empty_the_moment_its_session_runs_out,
    ])
