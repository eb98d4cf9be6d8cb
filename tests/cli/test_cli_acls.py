#!/usr/bin/python3
"""`strata acl create|list|delete` against a real stratad running Kafka's
StandardAuthorizer behind a SASL_PLAINTEXT listener: the super user manages
ACLs, which then decide what alice may do; filters, JSON output, usage
errors, and the errors Kafka answers (CLUSTER_AUTHORIZATION_FAILED for a
principal that may not manage ACLs, SECURITY_DISABLED without an authorizer)."""

import json
import os
import sys

from cli_support import run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Broker, run_tests  # noqa: E402
from security_support import PLAIN_USERS, sasl_broker  # noqa: E402

AUTHORIZER = ("authorizer.class.name: org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"
              "super.users: User:admin\n")


def properties(broker, user):
    path = os.path.join(broker.workdir, f"{user}.properties")
    with open(path, "w") as fh:
        fh.write("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
                 f"sasl.username={user}\nsasl.password={PLAIN_USERS[user]}\n")
    return path


def test_acl_commands():
    with sasl_broker(AUTHORIZER) as broker:
        sasl = f"127.0.0.1:{broker.sasl_port}"
        admin = ["--command-config", properties(broker, "admin")]
        alice = ["--command-config", properties(broker, "alice")]
        assert run(admin + ["topic", "create", "orders", "-p", "1"], sasl).code == 0

        # alice has no ACL: her produce is refused with Kafka's error.
        refused = run(alice + ["produce", "orders"], sasl, input="no\n")
        assert refused.code == 1 and "TOPIC_AUTHORIZATION_FAILED" in refused.err, refused

        created = run(admin + ["acl", "create", "--allow-principal", "User:alice", "--operation", "write",
                               "--operation", "read", "--topic", "orders"], sasl)
        assert created.code == 0 and "Created 2 ACLs" in created.out, created
        prefixed = run(admin + ["acl", "create", "--allow-principal", "User:alice", "--operation", "read",
                                "--group", "app-", "--resource-pattern-type", "prefixed"], sasl)
        assert prefixed.code == 0, prefixed
        denied = run(admin + ["acl", "create", "--deny-principal", "User:bob", "--operation", "all",
                              "--topic", "orders"], sasl)
        assert denied.code == 0, denied

        listed = run(admin + ["acl", "list"], sasl)
        assert listed.code == 0, listed
        rows = [line.split() for line in listed.out.strip().splitlines()]
        assert rows[0] == ["RESOURCE_TYPE", "NAME", "PATTERN", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION"], rows
        assert sorted(rows[1:]) == sorted([
            ["GROUP", "app-", "PREFIXED", "User:alice", "*", "READ", "ALLOW"],
            ["TOPIC", "orders", "LITERAL", "User:alice", "*", "READ", "ALLOW"],
            ["TOPIC", "orders", "LITERAL", "User:alice", "*", "WRITE", "ALLOW"],
            ["TOPIC", "orders", "LITERAL", "User:bob", "*", "ALL", "DENY"],
        ]), rows
        by_principal = run(admin + ["-o", "json", "acl", "list", "--principal", "User:bob"], sasl)
        assert by_principal.code == 0, by_principal
        assert [(a["principal"], a["operation"], a["permission"]) for a in json.loads(by_principal.out)] == \
            [("User:bob", "ALL", "DENY")], by_principal
        # MATCH: what applies to group app-payments (the prefixed ACL).
        matching = run(admin + ["-o", "json", "acl", "list", "--group", "app-payments", "--resource-pattern-type",
                                "match"], sasl)
        assert [a["resource_name"] for a in json.loads(matching.out)] == ["app-"], matching

        # Now alice may write and read orders.
        produced = run(alice + ["produce", "orders"], sasl, input="yes\n")
        assert produced.code == 0, produced
        consumed = run(alice + ["consume", "orders", "-n", "1"], sasl)
        assert consumed.code == 0 and consumed.out.split() == ["yes"], consumed

        # alice may not manage ACLs.
        forbidden = run(alice + ["acl", "list"], sasl)
        assert forbidden.code == 1 and "CLUSTER_AUTHORIZATION_FAILED" in forbidden.err, forbidden
        forbidden = run(alice + ["acl", "create", "--allow-principal", "User:alice", "--operation", "all",
                                 "--cluster"], sasl)
        assert forbidden.code == 1 and "CLUSTER_AUTHORIZATION_FAILED" in forbidden.err, forbidden

        # Usage errors: no resource or principal, two resources, a bad operation.
        for args in (["acl", "delete"], ["acl", "create", "--operation", "read", "--topic", "t"],
                     ["acl", "create", "--allow-principal", "User:a", "--operation", "read", "--topic", "t",
                      "--group", "g"],
                     ["acl", "create", "--allow-principal", "User:a", "--operation", "juggle", "--topic", "t"],
                     ["acl", "create", "--allow-principal", "alice", "--operation", "read", "--topic", "t"]):
            assert run(admin + args, sasl).code == 2, args

        deleted = run(admin + ["acl", "delete", "--principal", "User:alice", "--topic", "orders"], sasl)
        assert deleted.code == 0 and "Deleted 2 ACLs" in deleted.out, deleted
        left = run(admin + ["-o", "json", "acl", "list"], sasl)
        assert sorted(a["principal"] for a in json.loads(left.out)) == ["User:alice", "User:bob"], left
        refused = run(alice + ["produce", "orders"], sasl, input="again\n")
        assert refused.code == 1 and "TOPIC_AUTHORIZATION_FAILED" in refused.err, refused


def test_without_an_authorizer():
    with Broker() as broker:
        result = run(["acl", "list"], broker.bootstrap)
        assert result.code == 1 and "SECURITY_DISABLED" in result.err, result


if __name__ == "__main__":
    run_tests([test_acl_commands, test_without_an_authorizer])
