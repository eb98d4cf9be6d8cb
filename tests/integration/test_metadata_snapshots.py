#!/usr/bin/python3
"""Metadata snapshots on a real stratad: with a low
metadata.log.max.record.bytes.between.snapshots, creating topics writes a
snapshot (<end offset>-<epoch>.checkpoint) into the metadata log directory
and the log starts at it after a restart; after SIGTERM and SIGKILL every
topic, its partitions and its configs come back (confluent-kafka
AdminClient). In a 3-node quorum a follower that was down while the others
snapshotted catches up through FetchSnapshot."""

import os
import re

from harness import Broker, Cluster, run_tests, wait_for

from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

SNAPSHOT_ENV = {"STRATA_METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS": "4096"}
TOPICS = 60


def admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def topic_name(i):
    return f"snap-{i:03d}"


def topic_config(i):
    return {"retention.ms": str(3600000 + i)} if i % 3 == 0 else {}


def create_topics(broker, count):
    client = admin(broker)
    new = [NewTopic(topic_name(i), num_partitions=1 + i % 4, replication_factor=1, config=topic_config(i))
           for i in range(count)]
    for name, future in client.create_topics(new, operation_timeout=15).items():
        future.result(timeout=30)


def metadata_dir(broker):
    return os.path.join(broker.data_dir, "__cluster_metadata-0")


def snapshots(broker):
    """(end offset, epoch) of each .checkpoint file, highest first."""
    found = []
    for name in os.listdir(metadata_dir(broker)):
        m = re.fullmatch(r"(\d{20})-(\d{10})\.checkpoint", name)
        if m:
            found.append((int(m.group(1)), int(m.group(2))))
    return sorted(found, reverse=True)


def recovered_log_starts(broker):
    """The start offsets of the metadata log as stratad recovered it, one per start."""
    return [int(m) for m in re.findall(r"metadata log .*?: offsets \[(\d+), \d+\)", broker.log())]


def check_all_topics(broker, count):
    client = admin(broker)
    md = wait_for(lambda: (lambda m: m if all(topic_name(i) in m.topics for i in range(count)) else None)(
        client.list_topics(timeout=10)), what="every topic listed")
    for i in range(count):
        partitions = md.topics[topic_name(i)].partitions
        assert len(partitions) == 1 + i % 4, (topic_name(i), len(partitions))
        for p in partitions.values():
            assert p.leader == 1 and p.error is None, (topic_name(i), p)
    resources = [ConfigResource(ConfigResource.Type.TOPIC, topic_name(i)) for i in range(0, count, 3)]
    for resource, future in client.describe_configs(resources).items():
        entries = future.result(timeout=10)
        i = int(resource.name.split("-")[1])
        assert entries["retention.ms"].value == str(3600000 + i), (resource.name, entries["retention.ms"].value)
        assert not entries["retention.ms"].is_default, resource.name
    # A topic without configs still has the default.
    entries = client.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic_name(1))])
    assert list(entries.values())[0].result(timeout=10)["retention.ms"].is_default


def test_snapshot_written_and_loaded_after_sigterm_and_sigkill():
    broker = Broker(extra_env=SNAPSHOT_ENV).start().wait_ready()
    try:
        create_topics(broker, TOPICS)
        found = wait_for(lambda: snapshots(broker), what="a snapshot file")
        assert found[0][0] > 0, found
        # The file is renamed into place just before the line is logged.
        wait_for(lambda: "wrote the metadata snapshot" in broker.log(), what="the snapshot's log line")
        # A topic deleted before the snapshot stays deleted.
        client = admin(broker)
        client.create_topics([NewTopic("doomed", num_partitions=2, replication_factor=1)])["doomed"].result(30)
        client.delete_topics(["doomed"], operation_timeout=15)["doomed"].result(30)
        create_topics_after = [NewTopic("after-snapshot", num_partitions=2, replication_factor=1)]
        client.create_topics(create_topics_after)["after-snapshot"].result(30)
        # Enough records since for another snapshot, past the deletion.
        for i in range(TOPICS, TOPICS + 20):
            client.create_topics([NewTopic(f"more-{i}", num_partitions=1, replication_factor=1)])[f"more-{i}"].result(30)
        # A newer snapshot replaces the older file (removed just after the
        # new one is in place).
        latest = wait_for(lambda: (lambda s: s if len(s) == 1 and s[0][0] > found[0][0] else None)(snapshots(broker)),
                          what="a newer snapshot, alone")

        assert broker.stop() == 0
        broker.start().wait_ready()
        starts = recovered_log_starts(broker)
        assert len(starts) >= 2 and starts[-1] >= latest[0][0], (starts, latest)
        assert "loaded the metadata snapshot" in broker.log()
        check_all_topics(broker, TOPICS)
        # The entries after the snapshot are applied once the node leads again.
        md = wait_for(lambda: (lambda m: m if f"more-{TOPICS + 19}" in m.topics else None)(
            admin(broker).list_topics(timeout=10)), what="the topics created after the snapshot")
        assert "doomed" not in md.topics and "after-snapshot" in md.topics
        assert len(md.topics["after-snapshot"].partitions) == 2

        broker.kill()
        broker.start().wait_ready()
        check_all_topics(broker, TOPICS)
        md = wait_for(lambda: (lambda m: m if f"more-{TOPICS + 19}" in m.topics else None)(
            admin(broker).list_topics(timeout=10)), what="the topics created after the snapshot")
        assert "doomed" not in md.topics and "after-snapshot" in md.topics
        # Still writable after the restarts: a new topic on top of the snapshot.
        client = admin(broker)
        client.create_topics([NewTopic("post-restart", num_partitions=1, replication_factor=1)])["post-restart"].result(30)
        assert "post-restart" in admin(broker).list_topics(timeout=10).topics
    except Exception:
        print(broker.log()[-6000:])
        raise
    finally:
        broker.stop()


def test_stopped_follower_catches_up_through_fetch_snapshot():
    with Cluster(3, extra_env=SNAPSHOT_ENV) as cluster:
        leader_id, _, _ = cluster.wait_for_leader()
        follower = next(n for n in cluster.nodes if n.node_id != leader_id)
        for node in cluster.nodes:
            node.wait_ready(timeout=20)
        leader = cluster.node(leader_id)
        # Every broker registered and unfenced first: a client's controller is
        # a live broker from its first Metadata, and the one about to stop
        # must not be the only live one named then.
        wait_for(lambda: len(admin(leader).list_topics(timeout=10).brokers) == 3, what="three live brokers")
        assert follower.stop() == 0
        # Where the follower's log ended, as the leader saw its fetches.
        follower_end = dict(cluster.quorum_view(leader)["voters"])[follower.node_id]
        client = admin(leader)
        names = [f"while-away-{i}" for i in range(120)]
        futures = client.create_topics([NewTopic(n, num_partitions=1, replication_factor=1) for n in names],
                                       operation_timeout=15)
        for future in futures.values():
            future.result(timeout=30)
        # The leader snapshotted (and dropped its log) past everything the
        # follower has, so only a snapshot can bring it back.
        wait_for(lambda: (lambda s: s and s[0][0] > follower_end)(snapshots(leader)),
                 what="a snapshot on the leader past the follower's end")
        before = set(snapshots(follower))
        log_offset = len(follower.log())
        follower.start()
        follower.wait_ready(timeout=20)
        fetched = wait_for(lambda: (lambda s: s if s and set(s) != before else None)(snapshots(follower)),
                           timeout=20, what="a snapshot on the returning follower")
        md = wait_for(lambda: (lambda m: m if all(n in m.topics for n in names) else None)(
            admin(follower).list_topics(timeout=10)), timeout=20, what="the follower lists every topic")
        assert len(md.topics[names[-1]].partitions) == 1
        # The follower's log ended at E when it came back; it loaded a
        # snapshot ending past E, which only the leader could have sent.
        since = follower.log()[log_offset:]
        local_end = int(re.search(r"metadata log .*?: offsets \[\d+, (\d+)\)", since).group(1))
        loaded = [int(n) for n in re.findall(r"loaded the metadata snapshot \(end_offset=(\d+)", since)]
        assert any(n > local_end for n in loaded), (local_end, loaded, fetched)


if __name__ == "__main__":
    run_tests([
        test_snapshot_written_and_loaded_after_sigterm_and_sigkill,
        test_stopped_follower_catches_up_through_fetch_snapshot,
    ])
