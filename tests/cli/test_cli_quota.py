#!/usr/bin/python3
"""`strata quota set|list|delete` against a real stratad: entities and
defaults, --dry-run (validate_only), JSON output, and Kafka's errors for a
bad key or value."""

import json
import os
import sys

from cli_support import ok, run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Broker, run_tests  # noqa: E402


def test_quota_set_list_delete():
    with Broker() as broker:
        assert "Validated quotas of client-id=loader" in ok(
            ["quota", "set", "--client-id", "loader", "producer_byte_rate=1048576", "--dry-run"], broker).out
        assert ok(["quota", "list"], broker).out.count("\n") <= 1  # the header only: nothing was stored
        ok(["quota", "set", "--client-id", "loader", "producer_byte_rate=1048576"], broker)
        ok(["quota", "set", "--user", "alice", "--client-default", "consumer_byte_rate=2097152",
            "request_percentage=25"], broker)
        ok(["quota", "set", "--user-default", "producer_byte_rate=4096"], broker)
        listed = ok(["quota", "list"], broker).out
        assert "client-id=loader" in listed and "producer_byte_rate" in listed and "1048576" in listed, listed
        assert "client-id=<default>, user=alice" in listed, listed  # components by type name
        assert "user=<default>" in listed, listed

        doc = json.loads(ok(["quota", "list", "--user", "alice", "-o", "json"], broker).out)
        assert doc == [{"entity": {"client-id": None, "user": "alice"},
                        "values": {"consumer_byte_rate": 2097152.0, "request_percentage": 25.0}}], doc
        strict = json.loads(ok(["quota", "list", "--user-default", "--strict", "-o", "json"], broker).out)
        assert strict == [{"entity": {"user": None}, "values": {"producer_byte_rate": 4096.0}}], strict

        ok(["quota", "delete", "--user", "alice", "--client-default", "request_percentage"], broker)
        doc = json.loads(ok(["quota", "list", "--user", "alice", "-o", "json"], broker).out)
        assert doc[0]["values"] == {"consumer_byte_rate": 2097152.0}, doc
        ok(["quota", "delete", "--client-id", "loader"], broker)
        assert "loader" not in ok(["quota", "list"], broker).out

        bad_key = run(["quota", "set", "--client-id", "x", "bogus_rate=1"], broker)
        assert bad_key.code == 1 and "INVALID_REQUEST" in bad_key.err and "bogus_rate" in bad_key.err, bad_key
        bad_value = run(["quota", "set", "--client-id", "x", "producer_byte_rate=1.5"], broker)
        assert bad_value.code == 1 and "INVALID_REQUEST" in bad_value.err, bad_value
        usage = run(["quota", "set", "producer_byte_rate=1"], broker)
        assert usage.code == 2, usage  # no entity
        usage = run(["quota", "set", "--client-id", "x", "producer_byte_rate"], broker)
        assert usage.code == 2, usage  # not key=value


if __name__ == "__main__":
    run_tests([test_quota_set_list_delete])
