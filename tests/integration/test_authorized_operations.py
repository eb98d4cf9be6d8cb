#!/usr/bin/python3
"""Kafka's authorized-operations bit fields (KIP-430), asked for with a real
client over SASL_PLAINTEXT + PLAIN against a broker with the
StandardAuthorizer: Metadata v8 (the topic's and the cluster's operations)
and DescribeGroups v3, sent through kafka-python's connection. Each answer
must be the operations the principal's ACLs allow (implied ones included),
the super user gets every operation the resource type supports, a refused group or topic carries none, and a broker
without an authorizer answers every supported operation, as Kafka does."""

import socket
import time

from harness import Broker, run_tests
from security_support import PLAIN_USERS, call, sasl_broker

from kafka import KafkaAdminClient
from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, NewTopic, ResourcePattern, ResourceType
from kafka.conn import BrokerConnection
from kafka.protocol.api import Request, Response
from kafka.protocol.commit import GroupCoordinatorRequest
from kafka.protocol.types import Array, Boolean, Bytes, Int16, Int32, Schema, String

AUTHORIZER = ("authorizer.class.name: org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"
              "super.users: User:admin\n")
NOT_REQUESTED = -2147483648

# AclOperation wire codes.
READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE = 3, 4, 5, 6, 7, 8
CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE = 9, 10, 11, 12
TOPIC_ALL = {READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS}
CLUSTER_ALL = {CREATE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, ALTER, DESCRIBE}
GROUP_ALL = {READ, DESCRIBE, DELETE}


# Metadata v8, the last non-flexible version and the first with the
# authorized-operations fields (kafka-python 2.0.2 stops at v5), from
# Kafka's MetadataRequest.json / MetadataResponse.json. The requests go
# through kafka-python's connection (SASL, framing, correlation).
class MetadataResponse_v8(Response):
    API_KEY = 3
    API_VERSION = 8
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("brokers", Array(("node_id", Int32), ("host", String("utf-8")), ("port", Int32),
                          ("rack", String("utf-8")))),
        ("cluster_id", String("utf-8")),
        ("controller_id", Int32),
        ("topics", Array(("error_code", Int16), ("name", String("utf-8")), ("is_internal", Boolean),
                         ("partitions", Array(("error_code", Int16), ("partition_index", Int32),
                                              ("leader_id", Int32), ("leader_epoch", Int32),
                                              ("replica_nodes", Array(Int32)), ("isr_nodes", Array(Int32)),
                                              ("offline_replicas", Array(Int32)))),
                         ("topic_authorized_operations", Int32))),
        ("cluster_authorized_operations", Int32))


class MetadataRequest_v8(Request):
    API_KEY = 3
    API_VERSION = 8
    RESPONSE_TYPE = MetadataResponse_v8
    SCHEMA = Schema(
        ("topics", Array(String("utf-8"))),
        ("allow_auto_topic_creation", Boolean),
        ("include_cluster_authorized_operations", Boolean),
        ("include_topic_authorized_operations", Boolean))


# DescribeGroups v3 from Kafka's DescribeGroups*.json: kafka-python 2.0.2's
# own v3 parses the answer with v2's schema, and its v3 response schema puts
# authorized_operations after the groups array instead of in each group.
class DescribeGroupsResponse_v3(Response):
    API_KEY = 15
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("groups", Array(("error_code", Int16), ("group_id", String("utf-8")), ("group_state", String("utf-8")),
                         ("protocol_type", String("utf-8")), ("protocol_data", String("utf-8")),
                         ("members", Array(("member_id", String("utf-8")), ("client_id", String("utf-8")),
                                           ("client_host", String("utf-8")), ("member_metadata", Bytes),
                                           ("member_assignment", Bytes))),
                         ("authorized_operations", Int32))))


class DescribeGroupsRequest_v3(Request):
    API_KEY = 15
    API_VERSION = 3
    RESPONSE_TYPE = DescribeGroupsResponse_v3
    SCHEMA = Schema(("groups", Array(String("utf-8"))), ("include_authorized_operations", Boolean))


def bits(operations):
    return sum(1 << op for op in operations)


def ops(field):
    return {op for op in range(32) if field & (1 << op)}


def connect(port, user=None):
    security = {}
    if user:
        security = dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_plain_username=user,
                        sasl_plain_password=PLAIN_USERS[user])
    conn = BrokerConnection("127.0.0.1", port, socket.AF_INET, api_version=(2, 5, 0), request_timeout_ms=10000,
                            **security)
    assert conn.connect_blocking(10), f"cannot connect to {port}"
    return conn


def metadata(conn, topics, cluster=True, topic_ops=True):
    """Returns ({topic: (error_code, operations field)}, cluster operations field)."""
    response = call(conn, MetadataRequest_v8(topics=list(topics), allow_auto_topic_creation=False,
                                             include_cluster_authorized_operations=cluster,
                                             include_topic_authorized_operations=topic_ops))
    return {t[1]: (t[0], t[4]) for t in response.topics}, response.cluster_authorized_operations


def admin_client(port, user=None):
    security = {}
    if user:
        security = dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_plain_username=user,
                        sasl_plain_password=PLAIN_USERS[user])
    return KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}", request_timeout_ms=10000, **security)


def acl(operation, resource_type, name):
    return ACL(principal="User:alice", host="*", operation=operation, permission_type=ACLPermissionType.ALLOW,
               resource_pattern=ResourcePattern(resource_type, name, ACLResourcePatternType.LITERAL))


def group_operations(conn, group, timeout=15.0):
    """DescribeGroups v3's field for `group`. FindCoordinator first, as
    clients do (it creates __consumer_offsets on a new cluster); both retried
    while the coordinator is still loading."""
    deadline = time.monotonic() + timeout
    while call(conn, GroupCoordinatorRequest[0](consumer_group=group)).error_code != 0:
        assert time.monotonic() < deadline, "no group coordinator"
        time.sleep(0.2)
    while True:
        response = call(conn, DescribeGroupsRequest_v3(groups=[group], include_authorized_operations=True))
        [described] = response.groups
        error_code, operations = described[0], described[-1]
        if error_code not in (14, 15) or time.monotonic() > deadline:  # COORDINATOR_LOAD_IN_PROGRESS / NOT_AVAILABLE
            assert error_code == 0, described
            return operations
        time.sleep(0.2)


def test_operations_follow_the_acls():
    with sasl_broker(AUTHORIZER) as broker:
        admin = admin_client(broker.sasl_port, "admin")
        admin.create_topics([NewTopic("orders", 1, 1), NewTopic("secret", 1, 1)])
        result = admin.create_acls([
            acl(ACLOperation.WRITE, ResourceType.TOPIC, "orders"),
            acl(ACLOperation.ALTER_CONFIGS, ResourceType.TOPIC, "orders"),
            acl(ACLOperation.READ, ResourceType.GROUP, "billing"),
            acl(ACLOperation.IDEMPOTENT_WRITE, ResourceType.CLUSTER, "kafka-cluster"),
        ])
        assert not result["failed"], result
        time.sleep(0.5)  # the ACLs go through the metadata log

        alice = connect(broker.sasl_port, "alice")
        topics, cluster = metadata(alice, ["orders", "secret"])
        # WRITE implies DESCRIBE, ALTER_CONFIGS implies DESCRIBE_CONFIGS (Kafka's implied operations).
        assert topics["orders"] == (0, bits({WRITE, DESCRIBE, ALTER_CONFIGS, DESCRIBE_CONFIGS})), topics
        assert topics["secret"] == (29, NOT_REQUESTED), topics  # TOPIC_AUTHORIZATION_FAILED, no operations
        # Without DESCRIBE on the cluster, its field is 0 (not the "not requested" marker).
        assert cluster == 0, cluster
        print(f"  alice: orders {sorted(ops(topics['orders'][1]))}, cluster {cluster}")

        # Not asked: the marker, as Kafka answers.
        topics, cluster = metadata(alice, ["orders"], cluster=False, topic_ops=False)
        assert topics["orders"] == (0, NOT_REQUESTED) and cluster == NOT_REQUESTED, (topics, cluster)

        root = connect(broker.sasl_port, "admin")
        topics, cluster = metadata(root, ["orders"])
        assert ops(topics["orders"][1]) == TOPIC_ALL, topics
        assert ops(cluster) == CLUSTER_ALL, cluster

        # DescribeGroups v3: READ implies DESCRIBE; a group alice may not describe is refused.
        got = group_operations(alice, "billing")
        assert ops(got) == {READ, DESCRIBE}, got
        assert ops(group_operations(root, "billing")) == GROUP_ALL
        [refused] = call(alice, DescribeGroupsRequest_v3(groups=["payroll"], include_authorized_operations=True)).groups
        assert refused[0] == 30 and refused[-1] == NOT_REQUESTED, refused  # GROUP_AUTHORIZATION_FAILED
        print(f"  alice: group billing {sorted(ops(got))}")
        admin.close()
        alice.close()
        root.close()


def test_without_an_authorizer_every_supported_operation():
    with Broker() as broker:
        conn = connect(broker.port)
        admin = admin_client(broker.port)
        admin.create_topics([NewTopic("plain", 1, 1)])
        topics, cluster = metadata(conn, ["plain"])
        assert ops(topics["plain"][1]) == TOPIC_ALL, topics
        assert ops(cluster) == CLUSTER_ALL, cluster
        assert ops(group_operations(conn, "any-group")) == GROUP_ALL
        admin.close()
        conn.close()


if __name__ == "__main__":
    run_tests([test_operations_follow_the_acls, test_without_an_authorizer_every_supported_operation])
