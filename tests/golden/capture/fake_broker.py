#!/usr/bin/python3
"""Capture Kafka requests from real, unmodified clients.

Three subcommands:

  serve   A one-node fake Kafka broker on loopback. It records every request
          frame it receives (the bytes after the 4-byte size prefix) and
          answers enough for clients to go on: ApiVersions, Metadata (itself as
          the only broker, every topic with 3 partitions it leads), Produce
          (kept in memory, so Fetch returns what was produced), Fetch,
          ListOffsets, the consumer-group APIs (one member per group), offsets,
          transactions and the admin APIs listed in HANDLERS. Responses are
          encoded from Kafka's JSON schemas by kafka_schema.py, at the version
          the client asked for. The label of the client being driven is read
          from `<raw-dir>/label` at each frame (capture_all.sh writes it).

  select  From a raw capture, writes the committed golden set: per client one
          frame per distinct (api, version), plus one Produce frame per
          compression codec (and idempotent/transactional producers), each as
          tests/golden/requests/<client>/<seq>_<ApiName>_v<version>.bin; the
          `records` of those Produce frames as tests/golden/batches/
          <client>_<codec>.bin with a .json sidecar of the decoded records.

  check   Re-checks a golden directory: every frame's header is parsed by hand
          and by schema, the body decodes with no byte left over and re-encodes
          byte for byte; every batch file matches its sidecar and its source
          frame. Prints a (client, api, version, bytes) table.

Run with Debian's /usr/bin/python3 (kafka-python provides the decompressors).
"""

import argparse
import hashlib
import json
import os
import shutil
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kafka_schema as ks  # noqa: E402
import records as rec  # noqa: E402

NODE_ID = 1
CLUSTER_ID = "strata-golden-capture"
DEFAULT_PARTITIONS = 3

# Kafka error codes used here.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
UNSUPPORTED_VERSION = 35
MEMBER_ID_REQUIRED = 79
UNKNOWN_TOPIC_ID = 100


def topic_uuid(name):
    return uuid.uuid5(uuid.NAMESPACE_URL, "strata-golden/" + name).bytes


class Partition:
    def __init__(self):
        self.entries = []  # (base_offset, count, bytes) with offsets stamped
        self.next_offset = 0


class Topic:
    def __init__(self, name, partitions):
        self.name = name
        self.id = topic_uuid(name)
        self.partitions = [Partition() for _ in range(partitions)]


class Group:
    def __init__(self, group_id):
        self.id = group_id
        self.generation = 0
        self.member = None          # the single member of the current generation
        self.member_client = ("", "")
        self.protocol_type = "consumer"
        self.protocol_name = None
        self.metadata = b""
        self.assignments = {}
        self.offsets = {}           # (topic, partition) -> (offset, leader_epoch, metadata)


class State:
    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.lock = threading.RLock()
        self.topics = {}
        self.groups = {}
        self.next_member = 0
        self.next_producer_id = 1000
        self.profile_file = None

    def profile(self):
        try:
            with open(self.profile_file) as f:
                return f.read().strip()
        except (OSError, TypeError):
            return ""

    def topic(self, name, create=True, partitions=DEFAULT_PARTITIONS):
        with self.lock:
            t = self.topics.get(name)
            if t is None and create:
                t = self.topics[name] = Topic(name, partitions if partitions > 0 else DEFAULT_PARTITIONS)
            return t

    def topic_by_id(self, tid):
        with self.lock:
            for t in self.topics.values():
                if t.id == tid:
                    return t
        return None

    def group(self, gid):
        with self.lock:
            g = self.groups.get(gid)
            if g is None:
                g = self.groups[gid] = Group(gid)
            return g

    def new_member_id(self, client_id):
        with self.lock:
            self.next_member += 1
            return "%s-%08d" % (client_id or "member", self.next_member)


# ---------------------------------------------------------------- handlers
# Each handler takes (state, version, request body, header) and returns the
# response body as a dict keyed by schema field names, or None for no response.

# What old brokers advertised, to make clients that negotiate (librdkafka)
# fall back to old request versions and message formats. Selected by writing
# the name to <raw-dir>/profile.
BROKER_PROFILES = {
    # Kafka 0.10.0: message format v1 (magic 1), no CreateTopics yet.
    "0.10.0": {0: 2, 1: 2, 2: 0, 3: 1, 8: 2, 9: 1, 10: 0, 11: 0, 12: 0, 13: 0, 14: 0,
               15: 0, 16: 0, 18: 0},
}


def advertised():
    """api key -> (min, max) advertised now."""
    caps = BROKER_PROFILES.get(STATE.profile())
    out = {}
    for key, (lo, hi, _) in sorted(HANDLERS.items()):
        schema_hi = PROTO.requests[key].valid[1]
        if PROTO.requests[key].latest_unstable:
            schema_hi -= 1
        hi = min(hi, schema_hi)
        if caps is not None:
            if key not in caps:
                continue
            hi = min(hi, caps[key])
        out[key] = (lo, hi)
    return out


def h_api_versions(st, v, req, hdr):
    keys = [{"ApiKey": k, "MinVersion": lo, "MaxVersion": hi} for k, (lo, hi) in advertised().items()]
    return {"ErrorCode": NONE, "ApiKeys": keys}


def brokers_list():
    return [{"NodeId": NODE_ID, "Host": STATE.host, "Port": STATE.port, "Rack": None}]


def metadata_topic(t, v):
    parts = [{"ErrorCode": NONE, "PartitionIndex": i, "LeaderId": NODE_ID, "LeaderEpoch": 0,
              "ReplicaNodes": [NODE_ID], "IsrNodes": [NODE_ID], "OfflineReplicas": []}
             for i in range(len(t.partitions))]
    return {"ErrorCode": NONE, "Name": t.name, "TopicId": t.id, "IsInternal": False,
            "Partitions": parts}


def h_metadata(st, v, req, hdr):
    auto_create = req.get("AllowAutoTopicCreation", True) if v >= 4 else True
    topics = []
    if req["Topics"] is None or (v == 0 and req["Topics"] == []):
        with st.lock:
            topics = [metadata_topic(t, v) for t in st.topics.values()]
    else:
        for rt in req["Topics"]:
            name = rt.get("Name")
            t = st.topic(name, create=auto_create) if name else st.topic_by_id(rt.get("TopicId"))
            if t is None:
                topics.append({"ErrorCode": UNKNOWN_TOPIC_OR_PARTITION, "Name": name,
                               "TopicId": rt.get("TopicId", ks.ZERO_UUID), "Partitions": []})
            else:
                topics.append(metadata_topic(t, v))
    return {"Brokers": brokers_list(), "ClusterId": CLUSTER_ID, "ControllerId": NODE_ID,
            "Topics": topics}


def h_produce(st, v, req, hdr):
    out = []
    for td in req["TopicData"]:
        t = st.topic(td["Name"])
        presp = []
        for pd in td["PartitionData"]:
            idx = pd["Index"]
            if idx >= len(t.partitions):
                presp.append({"Index": idx, "ErrorCode": UNKNOWN_TOPIC_OR_PARTITION, "BaseOffset": -1})
                continue
            p = t.partitions[idx]
            with st.lock:
                base = p.next_offset
                for _, entry in rec.split_entries(pd["Records"] or b""):
                    n = rec.record_count(entry)
                    p.entries.append((p.next_offset, n, rec.restamp(entry, p.next_offset)))
                    p.next_offset += n
            presp.append({"Index": idx, "ErrorCode": NONE, "BaseOffset": base,
                          "LogAppendTimeMs": -1, "LogStartOffset": 0})
        out.append({"Name": td["Name"], "PartitionResponses": presp})
    if req["Acks"] == 0:
        return None
    return {"Responses": out}


def h_fetch(st, v, req, hdr):
    def build():
        any_data = False
        responses = []
        for ft in req["Topics"]:
            t = st.topic_by_id(ft["TopicId"]) if v >= 13 else st.topic(ft["Topic"], create=False)
            parts = []
            for fp in ft["Partitions"]:
                idx = fp["Partition"]
                if t is None or idx >= len(t.partitions):
                    parts.append({"PartitionIndex": idx, "HighWatermark": -1, "Records": b"",
                                  "ErrorCode": UNKNOWN_TOPIC_ID if v >= 13 else UNKNOWN_TOPIC_OR_PARTITION})
                    continue
                p = t.partitions[idx]
                data = bytearray()
                with st.lock:
                    for base, n, entry in p.entries:
                        if base + n > fp["FetchOffset"]:
                            if data and len(data) + len(entry) > fp["PartitionMaxBytes"]:
                                break
                            data += entry
                    hw = p.next_offset
                any_data = any_data or bool(data)
                parts.append({"PartitionIndex": idx, "ErrorCode": NONE, "HighWatermark": hw,
                              "LastStableOffset": hw, "LogStartOffset": 0,
                              "AbortedTransactions": [] if v >= 4 else None,
                              "PreferredReadReplica": -1, "Records": bytes(data)})
            responses.append({"Topic": ft.get("Topic", t.name if t else ""),
                              "TopicId": ft.get("TopicId", ks.ZERO_UUID), "Partitions": parts})
        return any_data, responses

    any_data, responses = build()
    if not any_data:
        # Long poll, as a broker does while fewer than MinBytes are available;
        # capped so that the capture stays quick.
        deadline = time.time() + min(req["MaxWaitMs"], 500) / 1000.0
        while time.time() < deadline and not any_data:
            time.sleep(0.05)
            any_data, responses = build()
    return {"ErrorCode": NONE, "SessionId": 0, "Responses": responses}


def h_list_offsets(st, v, req, hdr):
    topics = []
    for rt in req["Topics"]:
        t = st.topic(rt["Name"], create=False)
        parts = []
        for rp in rt["Partitions"]:
            idx = rp["PartitionIndex"]
            if t is None or idx >= len(t.partitions):
                parts.append({"PartitionIndex": idx, "ErrorCode": UNKNOWN_TOPIC_OR_PARTITION,
                              "OldStyleOffsets": []})
                continue
            end = t.partitions[idx].next_offset
            ts = rp["Timestamp"]
            off = end if ts == -1 else (0 if ts == -2 else (max(end - 1, 0) if ts == -3 else 0))
            parts.append({"PartitionIndex": idx, "ErrorCode": NONE, "OldStyleOffsets": [off],
                          "Timestamp": -1, "Offset": off, "LeaderEpoch": 0})
        topics.append({"Name": rt["Name"], "Partitions": parts})
    return {"Topics": topics}


def h_find_coordinator(st, v, req, hdr):
    if v < 4:
        return {"ErrorCode": NONE, "ErrorMessage": None, "NodeId": NODE_ID,
                "Host": st.host, "Port": st.port}
    return {"Coordinators": [{"Key": k, "NodeId": NODE_ID, "Host": st.host, "Port": st.port,
                              "ErrorCode": NONE, "ErrorMessage": None}
                             for k in req["CoordinatorKeys"]]}


def h_join_group(st, v, req, hdr):
    g = st.group(req["GroupId"])
    member = req["MemberId"]
    if not member:
        member = st.new_member_id(hdr.get("ClientId"))
        if v >= 4:  # KIP-394: the first join only hands out a member id
            return {"ErrorCode": MEMBER_ID_REQUIRED, "GenerationId": -1, "ProtocolName": "",
                    "Leader": "", "MemberId": member, "Members": []}
    proto = req["Protocols"][0] if req["Protocols"] else {"Name": "", "Metadata": b""}
    with st.lock:
        # One member per group: each join starts a generation led by the joiner.
        g.generation += 1
        g.member = member
        g.member_client = (hdr.get("ClientId") or "", "/127.0.0.1")
        g.protocol_type = req["ProtocolType"]
        g.protocol_name = proto["Name"]
        g.metadata = proto["Metadata"]
        g.assignments = {}
        gen = g.generation
    return {"ErrorCode": NONE, "GenerationId": gen, "ProtocolType": req["ProtocolType"],
            "ProtocolName": proto["Name"], "Leader": member, "SkipAssignment": False,
            "MemberId": member,
            "Members": [{"MemberId": member, "GroupInstanceId": req.get("GroupInstanceId"),
                         "Metadata": proto["Metadata"]}]}


def h_sync_group(st, v, req, hdr):
    g = st.group(req["GroupId"])
    with st.lock:
        for a in req["Assignments"]:
            g.assignments[a["MemberId"]] = a["Assignment"]
        assignment = g.assignments.get(req["MemberId"], b"")
    return {"ErrorCode": NONE, "ProtocolType": g.protocol_type, "ProtocolName": g.protocol_name,
            "Assignment": assignment}


def h_heartbeat(st, v, req, hdr):
    return {"ErrorCode": NONE}


def h_leave_group(st, v, req, hdr):
    g = st.group(req["GroupId"])
    leaving = [m["MemberId"] for m in req.get("Members", [])] if v >= 3 else [req["MemberId"]]
    with st.lock:
        if g.member in leaving:
            g.member = None
    return {"ErrorCode": NONE,
            "Members": [{"MemberId": m["MemberId"], "GroupInstanceId": m.get("GroupInstanceId"),
                         "ErrorCode": NONE} for m in req.get("Members", [])]}


def h_offset_commit(st, v, req, hdr):
    g = st.group(req["GroupId"])
    topics = []
    with st.lock:
        for t in req["Topics"]:
            for p in t["Partitions"]:
                g.offsets[(t["Name"], p["PartitionIndex"])] = (
                    p["CommittedOffset"], p.get("CommittedLeaderEpoch", -1), p["CommittedMetadata"])
            topics.append({"Name": t["Name"], "Partitions": [
                {"PartitionIndex": p["PartitionIndex"], "ErrorCode": NONE} for p in t["Partitions"]]})
    return {"Topics": topics}


def committed(st, gid, topics):
    g = st.group(gid)
    with st.lock:
        if topics is None:
            by_topic = {}
            for (tn, pi) in sorted(g.offsets):
                by_topic.setdefault(tn, []).append(pi)
            wanted = [{"Name": tn, "PartitionIndexes": ps} for tn, ps in by_topic.items()]
        else:
            wanted = topics
        out = []
        for t in wanted:
            parts = []
            for pi in t["PartitionIndexes"]:
                off, epoch, meta = g.offsets.get((t["Name"], pi), (-1, -1, ""))
                parts.append({"PartitionIndex": pi, "CommittedOffset": off,
                              "CommittedLeaderEpoch": epoch, "Metadata": meta, "ErrorCode": NONE})
            out.append({"Name": t["Name"], "Partitions": parts})
        return out


def h_offset_fetch(st, v, req, hdr):
    if v >= 8:
        return {"Groups": [{"GroupId": g["GroupId"], "Topics": committed(st, g["GroupId"], g["Topics"]),
                            "ErrorCode": NONE} for g in req["Groups"]]}
    return {"Topics": committed(st, req["GroupId"], req["Topics"]), "ErrorCode": NONE}


def h_list_groups(st, v, req, hdr):
    with st.lock:
        groups = [{"GroupId": g.id, "ProtocolType": g.protocol_type,
                   "GroupState": "Stable" if g.member else "Empty", "GroupType": "classic"}
                  for g in st.groups.values()]
    return {"ErrorCode": NONE, "Groups": groups}


def h_describe_groups(st, v, req, hdr):
    out = []
    for gid in req["Groups"]:
        g = st.group(gid)
        with st.lock:
            members = []
            if g.member:
                members.append({"MemberId": g.member, "ClientId": g.member_client[0],
                                "ClientHost": g.member_client[1], "MemberMetadata": g.metadata,
                                "MemberAssignment": g.assignments.get(g.member, b"")})
            out.append({"ErrorCode": NONE, "GroupId": gid,
                        "GroupState": "Stable" if g.member else "Empty",
                        "ProtocolType": g.protocol_type, "ProtocolData": g.protocol_name or "",
                        "Members": members})
    return {"Groups": out}


def h_delete_groups(st, v, req, hdr):
    with st.lock:
        for gid in req["GroupsNames"]:
            st.groups.pop(gid, None)
    return {"Results": [{"GroupId": gid, "ErrorCode": NONE} for gid in req["GroupsNames"]]}


def h_create_topics(st, v, req, hdr):
    out = []
    for ct in req["Topics"]:
        n = ct["NumPartitions"] if ct["NumPartitions"] > 0 else (
            len(ct["Assignments"]) or DEFAULT_PARTITIONS)
        if not req.get("validateOnly"):
            with st.lock:
                st.topics[ct["Name"]] = Topic(ct["Name"], n)
        out.append({"Name": ct["Name"], "TopicId": topic_uuid(ct["Name"]), "ErrorCode": NONE,
                    "ErrorMessage": None, "NumPartitions": n, "ReplicationFactor": 1,
                    "Configs": []})
    return {"Topics": out}


def h_delete_topics(st, v, req, hdr):
    out = []
    names = req["TopicNames"] if v < 6 else None
    if names is None:
        names = []
        for dt in req["Topics"]:
            t = st.topic_by_id(dt["TopicId"]) if dt["Name"] is None else None
            names.append(dt["Name"] if dt["Name"] is not None else (t.name if t else None))
    for name in names:
        with st.lock:
            st.topics.pop(name, None)
        out.append({"Name": name, "TopicId": topic_uuid(name or ""), "ErrorCode": NONE})
    return {"Responses": out}


TOPIC_CONFIGS = [("cleanup.policy", "delete"), ("compression.type", "producer"),
                 ("retention.ms", "604800000"), ("segment.bytes", "1073741824"),
                 ("max.message.bytes", "1048588")]
BROKER_CONFIGS = [("log.retention.hours", "168"), ("num.partitions", "3"),
                  ("auto.create.topics.enable", "true")]


def h_describe_configs(st, v, req, hdr):
    out = []
    for r in req["Resources"]:
        table = TOPIC_CONFIGS if r["ResourceType"] == 2 else BROKER_CONFIGS
        keys = r["ConfigurationKeys"]
        configs = [{"Name": k, "Value": val, "ReadOnly": False, "IsDefault": True,
                    "ConfigSource": 5, "IsSensitive": False, "Synonyms": [],
                    "ConfigType": 0, "Documentation": None}
                   for k, val in table if keys is None or k in keys]
        out.append({"ErrorCode": NONE, "ErrorMessage": None, "ResourceType": r["ResourceType"],
                    "ResourceName": r["ResourceName"], "Configs": configs})
    return {"Results": out}


def h_alter_configs(st, v, req, hdr):
    return {"Responses": [{"ErrorCode": NONE, "ErrorMessage": None, "ResourceType": r["ResourceType"],
                           "ResourceName": r["ResourceName"]} for r in req["Resources"]]}


def h_create_partitions(st, v, req, hdr):
    out = []
    for t in req["Topics"]:
        topic = st.topic(t["Name"])
        with st.lock:
            while len(topic.partitions) < t["Count"]:
                topic.partitions.append(Partition())
        out.append({"Name": t["Name"], "ErrorCode": NONE, "ErrorMessage": None})
    return {"Results": out}


def h_delete_records(st, v, req, hdr):
    return {"Topics": [{"Name": t["Name"], "Partitions": [
        {"PartitionIndex": p["PartitionIndex"], "LowWatermark": max(p["Offset"], 0), "ErrorCode": NONE}
        for p in t["Partitions"]]} for t in req["Topics"]]}


def h_init_producer_id(st, v, req, hdr):
    with st.lock:
        st.next_producer_id += 1
        pid = st.next_producer_id
    return {"ErrorCode": NONE, "ProducerId": pid, "ProducerEpoch": 0}


def h_offset_for_leader_epoch(st, v, req, hdr):
    out = []
    for t in req["Topics"]:
        topic = st.topic(t["Topic"], create=False)
        parts = []
        for p in t["Partitions"]:
            ok = topic is not None and p["Partition"] < len(topic.partitions)
            parts.append({"ErrorCode": NONE if ok else UNKNOWN_TOPIC_OR_PARTITION,
                          "Partition": p["Partition"], "LeaderEpoch": 0 if ok else -1,
                          "EndOffset": topic.partitions[p["Partition"]].next_offset if ok else -1})
        out.append({"Topic": t["Topic"], "Partitions": parts})
    return {"Topics": out}


def h_add_partitions_to_txn(st, v, req, hdr):
    return {"ResultsByTopicV3AndBelow": [
        {"Name": t["Name"], "ResultsByPartition": [
            {"PartitionIndex": p, "PartitionErrorCode": NONE} for p in t["Partitions"]]}
        for t in req["V3AndBelowTopics"]]}


def h_error_code_only(st, v, req, hdr):
    return {"ErrorCode": NONE}


def h_txn_offset_commit(st, v, req, hdr):
    return {"Topics": [{"Name": t["Name"], "Partitions": [
        {"PartitionIndex": p["PartitionIndex"], "ErrorCode": NONE} for p in t["Partitions"]]}
        for t in req["Topics"]]}


def h_describe_acls(st, v, req, hdr):
    return {"ErrorCode": NONE, "ErrorMessage": None, "Resources": []}


def h_create_acls(st, v, req, hdr):
    return {"Results": [{"ErrorCode": NONE, "ErrorMessage": None} for _ in req["Creations"]]}


def h_delete_acls(st, v, req, hdr):
    return {"FilterResults": [{"ErrorCode": NONE, "ErrorMessage": None, "MatchingAcls": []}
                              for _ in req["Filters"]]}


def h_consumer_group_heartbeat(st, v, req, hdr):
    """KIP-848: the broker assigns. One member per group: it gets every
    partition of the topics it subscribes to, when it joins (epoch 0)."""
    g = st.group(req["GroupId"])
    member = req["MemberId"] or st.new_member_id(hdr.get("ClientId"))
    epoch = req["MemberEpoch"]
    if epoch < 0:  # -1 leaves the group, -2 leaves it as a static member
        with st.lock:
            if g.member == member:
                g.member = None
        return {"ErrorCode": NONE, "MemberId": member, "MemberEpoch": epoch,
                "HeartbeatIntervalMs": 1000, "Assignment": None}
    with st.lock:
        if req["SubscribedTopicNames"] is not None:
            g.subscribed = list(req["SubscribedTopicNames"])
        if epoch == 0 or g.member != member:
            g.generation += 1
            g.member = member
            g.member_client = (hdr.get("ClientId") or "", "/127.0.0.1")
            g.protocol_type = "consumer"
        topics = [st.topics[n] for n in getattr(g, "subscribed", []) if n in st.topics]
        target = [{"TopicId": t.id, "Partitions": list(range(len(t.partitions)))} for t in topics]
        owned = req["TopicPartitions"]
        if owned is not None:
            g.acknowledged = (sorted((tp["TopicId"], p) for tp in owned for p in tp["Partitions"]) ==
                              sorted((tp["TopicId"], p) for tp in target for p in tp["Partitions"]))
        # The assignment is repeated until the member reports that it owns it.
        assignment = None if getattr(g, "acknowledged", False) and epoch != 0 else {"TopicPartitions": target}
        gen = g.generation
    return {"ErrorCode": NONE, "MemberId": member, "MemberEpoch": gen, "HeartbeatIntervalMs": 1000,
            "Assignment": assignment}


def h_describe_cluster(st, v, req, hdr):
    return {"ErrorCode": NONE, "ClusterId": CLUSTER_ID, "ControllerId": NODE_ID,
            "Brokers": [{"BrokerId": NODE_ID, "Host": st.host, "Port": st.port, "Rack": None}]}


# api key -> (min version, max version we answer, handler). The advertised
# maximum is also capped at the schema's (less an unstable latest version).
HANDLERS = {
    0: (0, 11, h_produce),
    1: (0, 17, h_fetch),
    2: (0, 10, h_list_offsets),
    3: (0, 12, h_metadata),
    8: (0, 9, h_offset_commit),
    9: (0, 9, h_offset_fetch),
    10: (0, 6, h_find_coordinator),
    11: (0, 9, h_join_group),
    12: (0, 4, h_heartbeat),
    13: (0, 5, h_leave_group),
    14: (0, 5, h_sync_group),
    15: (0, 5, h_describe_groups),
    16: (0, 5, h_list_groups),
    18: (0, 4, h_api_versions),
    19: (0, 7, h_create_topics),
    20: (0, 6, h_delete_topics),
    21: (0, 2, h_delete_records),
    22: (0, 5, h_init_producer_id),
    23: (0, 4, h_offset_for_leader_epoch),
    24: (0, 3, h_add_partitions_to_txn),
    25: (0, 4, h_error_code_only),   # AddOffsetsToTxn
    26: (0, 4, h_error_code_only),   # EndTxn
    28: (0, 4, h_txn_offset_commit),
    29: (0, 3, h_describe_acls),
    30: (0, 3, h_create_acls),
    31: (0, 3, h_delete_acls),
    32: (0, 4, h_describe_configs),
    33: (0, 2, h_alter_configs),
    37: (0, 3, h_create_partitions),
    42: (0, 2, h_delete_groups),
    44: (0, 1, h_alter_configs),     # IncrementalAlterConfigs: same response shape
    60: (0, 1, h_describe_cluster),
    68: (0, 1, h_consumer_group_heartbeat),
}

PROTO = None
STATE = None


# ---------------------------------------------------------------- server
class Recorder:
    """Writes each received frame to <raw>/frames/<seq>.bin and one JSON line to
    <raw>/index.jsonl; the client label is what <raw>/label said when the
    connection was accepted."""

    def __init__(self, raw_dir):
        self.raw_dir = raw_dir
        os.makedirs(os.path.join(raw_dir, "frames"), exist_ok=True)
        self.lock = threading.Lock()
        self.seq = 0
        self.index = open(os.path.join(raw_dir, "index.jsonl"), "a", buffering=1)

    def label(self):
        try:
            with open(os.path.join(self.raw_dir, "label")) as f:
                return f.read().strip() or "unlabelled"
        except OSError:
            return "unlabelled"

    def record(self, conn_id, label, frame, info):
        with self.lock:
            self.seq += 1
            seq = self.seq
            with open(os.path.join(self.raw_dir, "frames", "%06d.bin" % seq), "wb") as f:
                f.write(frame)
            info = dict(seq=seq, conn=conn_id, label=label, size=len(frame), **info)
            self.index.write(json.dumps(info) + "\n")
        return seq


def read_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


class ConnectionHandler(socketserver.BaseRequestHandler):
    counter = 0
    counter_lock = threading.Lock()

    def handle(self):
        with ConnectionHandler.counter_lock:
            ConnectionHandler.counter += 1
            conn_id = ConnectionHandler.counter
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server = self.server
        # A connection belongs to the client process that opened it: label it
        # once, so that a frame read late (after a long poll) is not mislabelled.
        label = server.recorder.label()
        while True:
            size_bytes = read_exact(sock, 4)
            if size_bytes is None:
                return
            (size,) = struct.unpack(">i", size_bytes)
            if size < 0 or size > 64 << 20:
                log("conn %d: bad frame size %d, closing" % (conn_id, size))
                return
            frame = read_exact(sock, size)
            if frame is None:
                return
            info = {}
            try:
                api_key, version, corr, client_id, _ = ks.parse_request_header(frame)
                info.update(api_key=api_key, api=PROTO.api_name(api_key), version=version,
                            correlation_id=corr, client_id=client_id)
                header, _, body = PROTO.decode_request(frame)
                info["decoded"] = True
                if PROTO.encode_request(header, body) != frame:
                    info["reencode_mismatch"] = True
            except ks.DecodeError as e:
                info["decoded"] = False
                info["error"] = str(e)
                server.recorder.record(conn_id, label, frame, info)
                log("conn %d: cannot decode frame: %s" % (conn_id, e))
                if "api_key" not in info:
                    return
                body = None
            if body is not None and api_key == 0:
                try:
                    for td in body["TopicData"]:
                        for pd in td["PartitionData"]:
                            if pd["Records"]:
                                m, codec, pid, txn = rec.summarize(pd["Records"])
                                info.setdefault("produce", []).append(
                                    {"topic": td["Name"], "partition": pd["Index"], "magic": m,
                                     "codec": codec, "producer_id": pid, "transactional": txn})
                except Exception as e:  # noqa: BLE001 - recorded for the select step
                    info["records_error"] = repr(e)
            if body is not None:
                server.recorder.record(conn_id, label, frame, info)
            response = self.respond(api_key, version, corr, header if body is not None else {}, body)
            if response is None:
                continue
            if response is False:
                return
            sock.sendall(struct.pack(">i", len(response)) + response)

    def respond(self, api_key, version, corr, header, body):
        entry = HANDLERS.get(api_key)
        if api_key == 18 and version > advertised()[18][1]:
            # Unknown ApiVersions version: answer v0 with UNSUPPORTED_VERSION and
            # our ranges, so the client retries with a version we know (KIP-511).
            resp = h_api_versions(STATE, 0, {}, header)
            resp["ErrorCode"] = UNSUPPORTED_VERSION
            return PROTO.encode_response(18, 0, corr, resp)
        if entry is None or not entry[0] <= version <= entry[1] or body is None:
            log("no answer for %s v%d; closing" % (PROTO.api_name(api_key), version))
            return False
        try:
            resp = entry[2](STATE, version, body, header)
        except Exception as e:  # noqa: BLE001 - a capture tool keeps serving
            log("handler %s v%d failed: %r" % (PROTO.api_name(api_key), version, e))
            import traceback
            traceback.print_exc()
            return False
        if resp is None:
            return None
        return PROTO.encode_response(api_key, version, corr, resp)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def log(msg):
    sys.stderr.write("[fake_broker] %s\n" % msg)
    sys.stderr.flush()


def cmd_serve(args):
    global STATE
    server = Server((args.host, args.port), ConnectionHandler)
    port = server.server_address[1]
    STATE = State(args.host, port)
    STATE.profile_file = os.path.join(args.raw_dir, "profile")
    server.recorder = Recorder(args.raw_dir)
    log("listening on %s:%d, recording to %s" % (args.host, port, args.raw_dir))
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write(str(port))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


# ---------------------------------------------------------------- select
def produce_variant(info):
    """'gzip', 'none-idempotent', 'snappy-magic1', ... from the first data partition."""
    p = info["produce"][0]
    name = p["codec"]
    if p["magic"] < 2:
        name += "-magic%d" % p["magic"]
    if p["transactional"]:
        name += "-transactional"
    elif p["producer_id"] >= 0:
        name += "-idempotent"
    return name


def cmd_select(args):
    index = [json.loads(line) for line in open(os.path.join(args.raw_dir, "index.jsonl"))]
    req_dir = os.path.join(args.out, "requests")
    bat_dir = os.path.join(args.out, "batches")
    for d in (req_dir, bat_dir):
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    manifest = []
    seen_content = set()
    by_label = {}
    for info in index:
        by_label.setdefault(info["label"], []).append(info)
    for label, frames in by_label.items():
        if label in ("unlabelled", "idle"):
            continue
        # One frame per (api, version, produce variant): the first one, except
        # for Produce, where the one carrying the most records is kept.
        chosen = {}
        for info in frames:
            if not info.get("decoded"):
                log("skipping undecodable frame %d of %s: %s" % (info["seq"], label, info.get("error")))
                continue
            variant = ""
            if info["api_key"] == 0:
                if not info.get("produce"):
                    continue  # a Produce with no records says nothing new
                variant = produce_variant(info)
                info["_records"] = produce_record_count(args.raw_dir, info)
            key = (info["api_key"], info["version"], variant)
            if key not in chosen or info.get("_records", 0) > chosen[key].get("_records", 0):
                chosen[key] = info
        seq = 0
        for info in sorted(chosen.values(), key=lambda i: i["seq"]):
            variant = produce_variant(info) if info["api_key"] == 0 else ""
            frame = read_raw(args.raw_dir, info)
            digest = hashlib.sha256(frame).hexdigest()
            if digest in seen_content:
                continue
            seen_content.add(digest)
            seq += 1
            os.makedirs(os.path.join(req_dir, label), exist_ok=True)
            rel = "requests/%s/%04d_%s_v%d.bin" % (label, seq, info["api"], info["version"])
            with open(os.path.join(args.out, rel), "wb") as f:
                f.write(frame)
            entry = {"file": rel, "client": label, "api_key": info["api_key"], "api": info["api"],
                     "version": info["version"],
                     "header_version": PROTO.request_header_version(info["api_key"], info["version"]),
                     "correlation_id": info["correlation_id"], "client_id": info["client_id"],
                     "size": len(frame), "sha256": digest}
            if variant:
                entry["produce"] = variant
                write_batch(args.out, label, variant, rel, frame, entry)
            manifest.append(entry)
    with open(os.path.join(args.out, "requests", "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print_table(manifest)


def read_raw(raw_dir, info):
    with open(os.path.join(raw_dir, "frames", "%06d.bin" % info["seq"]), "rb") as f:
        return f.read()


def produce_record_count(raw_dir, info):
    _, _, body = PROTO.decode_request(read_raw(raw_dir, info))
    n = 0
    for td in body["TopicData"]:
        for pd in td["PartitionData"]:
            for _, entry in rec.split_entries(pd["Records"] or b""):
                n += rec.record_count(entry)
    return n


def write_batch(out, label, variant, rel, frame, entry):
    _, _, body = PROTO.decode_request(frame)
    for td in body["TopicData"]:
        for pd in td["PartitionData"]:
            data = pd["Records"]
            if not data:
                continue
            name = "%s_%s" % (label, variant)
            with open(os.path.join(out, "batches", name + ".bin"), "wb") as f:
                f.write(data)
            side = {
                "source": {"client": label, "request": rel, "topic": td["Name"],
                           "partition": pd["Index"], "offset_in_request": frame.find(data)},
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "entries": rec.parse_records(data),
            }
            with open(os.path.join(out, "batches", name + ".json"), "w") as f:
                json.dump(side, f, indent=1)
                f.write("\n")
            entry["batch"] = "batches/%s.bin" % name
            return


def print_table(manifest):
    rows = [(m["client"], m["api"], "v%d" % m["version"], m.get("produce", ""), m["size"])
            for m in manifest]
    w = [max(len(str(r[i])) for r in rows + [("client", "api", "version", "produce", "bytes")])
         for i in range(5)]
    fmt = "%-{}s  %-{}s  %-{}s  %-{}s  %{}s".format(*w)
    print(fmt % ("client", "api", "version", "produce", "bytes"))
    for r in rows:
        print(fmt % r)
    print("%d frames, %d bytes" % (len(rows), sum(r[4] for r in rows)))


# ---------------------------------------------------------------- check
def cmd_check(args):
    manifest = json.load(open(os.path.join(args.golden, "requests", "manifest.json")))
    failures = 0
    listed = set()
    for m in manifest:
        path = os.path.join(args.golden, m["file"])
        listed.add(os.path.normpath(path))
        frame = open(path, "rb").read()
        try:
            api_key, version, corr, client_id, after = ks.parse_request_header(frame)
            assert (api_key, version, corr, client_id) == (
                m["api_key"], m["version"], m["correlation_id"], m["client_id"]), "header"
            header, hv, body = PROTO.decode_request(frame)
            if hv == 2:  # the flexible header ends with a tagged-field section
                assert after < len(frame), "no tagged-field section"
            assert header["ClientId"] == client_id
            assert PROTO.encode_request(header, body) == frame, "re-encode differs"
            assert hashlib.sha256(frame).hexdigest() == m["sha256"], "sha256"
            if "batch" in m:
                check_batch(args.golden, m, frame)
        except (AssertionError, ks.DecodeError, rec.RecordError) as e:
            failures += 1
            print("FAIL %s: %s" % (m["file"], e))
    for root, _, files in os.walk(os.path.join(args.golden, "requests")):
        for name in files:
            p = os.path.normpath(os.path.join(root, name))
            if name.endswith(".bin") and p not in listed:
                failures += 1
                print("FAIL %s: not in manifest.json" % p)
    print_table(manifest)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(args.golden) for f in fs)
    print("golden directory: %d bytes" % total)
    print("%d passed, %d failed" % (len(manifest) - failures, failures))
    return 1 if failures else 0


def check_batch(golden, m, frame):
    data = open(os.path.join(golden, m["batch"]), "rb").read()
    side = json.load(open(os.path.join(golden, m["batch"][:-4] + ".json")))
    off = side["source"]["offset_in_request"]
    assert frame[off:off + len(data)] == data, "batch not at its offset in the frame"
    assert rec.parse_records(data) == side["entries"], "batch decodes differently from sidecar"
    assert hashlib.sha256(data).hexdigest() == side["sha256"]


def main():
    global PROTO
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--schemas", help="kafka-protocol directory (default: ../shared/kafka-protocol)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--raw-dir", required=True)
    s.add_argument("--ready-file")
    s = sub.add_parser("select")
    s.add_argument("--raw-dir", required=True)
    s.add_argument("--out", required=True)
    s = sub.add_parser("check")
    s.add_argument("golden", nargs="?", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    args = ap.parse_args()
    PROTO = ks.Protocol(args.schemas)
    if args.cmd == "serve":
        cmd_serve(args)
    elif args.cmd == "select":
        cmd_select(args)
    else:
        sys.exit(cmd_check(args))


if __name__ == "__main__":
    main()
