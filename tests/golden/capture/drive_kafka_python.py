#!/usr/bin/python3
"""Drives kafka-python 2.0.2 against the fake broker.

  drive_kafka_python.py BOOTSTRAP LABEL [API_VERSION]

Without API_VERSION the client negotiates (ApiVersions) and uses record
batches; with one, e.g. 0.10.0 or 0.9, it speaks that broker's old protocol
versions and message format (magic 1 or 0, no headers). It produces with every
codec the version and the installed modules allow, consumes in a group and
commits, and, when the version has them, runs the KafkaAdminClient calls."""

import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ConfigResource,
                         ConfigResourceType, NewPartitions, NewTopic, ResourcePattern,
                         ResourcePatternFilter, ResourceType)
from kafka.admin.acl_resource import ACLResourcePatternType
from kafka.codec import has_lz4, has_snappy, has_zstd

import payload

BOOTSTRAP, LABEL = sys.argv[1], sys.argv[2]
API = tuple(int(x) for x in sys.argv[3].split(".")) if len(sys.argv) > 3 else None
TOPIC = "golden-" + LABEL
GROUP = TOPIC + "-group"
COMMON = {"bootstrap_servers": BOOTSTRAP, "client_id": "kafka-python-2.0.2"}
if API:
    COMMON["api_version"] = API


def codecs():
    out = [None, "gzip"]
    if has_snappy():
        out.append("snappy")
    if has_lz4():
        out.append("lz4")
    if has_zstd() and (API is None or API >= (2, 1)):
        out.append("zstd")
    return out


def produce(codec):
    name = codec or "none"
    p = KafkaProducer(compression_type=codec, linger_ms=200, **COMMON)
    with_headers = API is None or API >= (0, 11)
    for i in range(payload.RECORDS):
        hdrs = [(k, v.encode()) for k, v in payload.headers(LABEL, i)] if with_headers else None
        p.send(TOPIC, key=payload.key(i).encode(), value=payload.value(LABEL, name, i).encode(),
               headers=hdrs, partition=0)
    p.flush(10)
    p.close(10)


def consume():
    grouped = API is None or API >= (0, 9)  # 0.8.2 brokers have no group coordination
    c = KafkaConsumer(group_id=GROUP if grouped else None, auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=3000, **COMMON)
    tp = TopicPartition(TOPIC, 0)
    if grouped:
        c.subscribe([TOPIC])
    else:
        c.assign([tp])
        c.seek_to_beginning(tp)
    got = 0
    deadline = time.time() + 30
    while got < payload.RECORDS and time.time() < deadline:
        for batch in c.poll(timeout_ms=500).values():
            got += len(batch)
    if grouped:
        c.commit()
        c.committed(tp)
    if API is None or API >= (0, 10, 1):
        c.end_offsets([tp])
        c.beginning_offsets([tp])
        c.offsets_for_times({tp: int(time.time() * 1000) - 60000})
    c.close()
    assert got >= payload.RECORDS, "consumed only %d" % got


def admin():
    a = KafkaAdminClient(**COMMON)
    name = TOPIC + "-admin"
    a.create_topics([NewTopic(name, 3, 1, topic_configs={"retention.ms": "3600000"})])
    a.create_partitions({name: NewPartitions(4)})
    a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name),
                        ConfigResource(ConfigResourceType.BROKER, "1")])
    a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs={"retention.ms": "7200000"})])
    a.list_topics()
    a.describe_cluster()
    a.list_consumer_groups()
    a.describe_consumer_groups([GROUP])
    a.list_consumer_group_offsets(GROUP)
    acl = ACL(principal="User:golden", host="*", operation=ACLOperation.READ,
              permission_type=ACLPermissionType.ALLOW,
              resource_pattern=ResourcePattern(ResourceType.TOPIC, name, ACLResourcePatternType.LITERAL))
    a.create_acls([acl])
    flt = ACLFilter(principal=None, host="*", operation=ACLOperation.ANY,
                    permission_type=ACLPermissionType.ANY,
                    resource_pattern=ResourcePatternFilter(ResourceType.TOPIC, name,
                                                           ACLResourcePatternType.LITERAL))
    a.describe_acls(flt)
    a.delete_acls([flt])
    a.delete_consumer_groups([GROUP])
    a.delete_topics([name])
    a.close()


def main():
    for codec in codecs():
        produce(codec)
    consume()
    if API is None:
        admin()
    print("kafka-python %s: done" % (LABEL,))


if __name__ == "__main__":
    main()
