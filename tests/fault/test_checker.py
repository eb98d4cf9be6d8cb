#!/usr/bin/python3
"""The checker against hand-made histories: a clean one passes, and each
anomaly, planted on its own, is found under its own name and only there."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checker import ANOMALIES, check  # noqa: E402


def send(proc, seq, partition, value, offset=None, outcome="ok", t0=0.0, t1=0.1):
    return {"f": "send", "proc": proc, "seq": seq, "partition": partition, "value": value, "offset": offset,
            "outcome": outcome, "t0": t0, "t1": t1}


def read(partition, records, final=True, node=1, proc="reader"):
    return {"f": "read", "proc": proc, "node": node, "partition": partition, "records": records, "final": final,
            "t0": 5.0, "t1": 5.1}


def clean():
    return [
        send("p1", 0, 0, "p1-0", 0), send("p1", 1, 0, "p1-1", 1), send("p2", 0, 0, "p2-0", 2),
        send("p2", 1, 1, "p2-1", 0), send("p1", 2, 1, "p1-2", None, outcome="info"),
        read(0, [[0, "p1-0"], [1, "p1-1"]], final=False, node=2),
        read(0, [[0, "p1-0"], [1, "p1-1"], [2, "p2-0"]]),
        read(1, [[0, "p2-1"]]),
        {"f": "commit", "group": "g", "partition": 0, "offset": 2, "outcome": "ok", "t0": 1.0, "t1": 1.1},
        {"f": "fetch_committed", "group": "g", "partition": 0, "offset": 2, "outcome": "ok", "t0": 1.2, "t1": 1.3},
        {"f": "commit", "group": "g", "partition": 0, "offset": 3, "outcome": "ok", "t0": 1.4, "t1": 1.5},
        # Concurrent with the commit of 3: either answer is right.
        {"f": "fetch_committed", "group": "g", "partition": 0, "offset": 2, "outcome": "ok", "t0": 1.45, "t1": 1.6},
        {"f": "txn", "txn": 1, "records": [[0, "t1-a"], [1, "t1-b"]], "outcome": "commit", "t0": 2, "t1": 3},
        {"f": "txn", "txn": 2, "records": [[0, "t2-a"], [1, "t2-b"]], "outcome": "abort", "t0": 2, "t1": 3},
        {"f": "txn", "txn": 3, "records": [[0, "t3-a"], [1, "t3-b"]], "outcome": "info", "t0": 2, "t1": 3},
        {"f": "read_committed", "proc": "txn-reader", "partition": 0, "records": [[0, "t1-a"], [3, "t3-a"]],
         "final": True, "t0": 6, "t1": 7},
        {"f": "read_committed", "proc": "txn-reader", "partition": 1, "records": [[0, "t1-b"], [3, "t3-b"]],
         "final": True, "t0": 6, "t1": 7},
        # ops[17], [18]: two members of group g read partition 0 below its committed offset 3.
        dict(read(0, [[0, "p1-0"], [1, "p1-1"]], final=False, proc="g0.0"), group="g"),
        dict(read(0, [[2, "p2-0"]], final=False, proc="g1.0"), group="g"),
    ]


def with_index(ops):
    for i, op in enumerate(ops):
        op["index"] = i
    return ops


def only(found, name):
    others = {k: v for k, v in found.items() if v and k != name}
    assert found[name], f"{name} not detected: {found}"
    assert not others, f"besides {name}, also {others}"


def test_clean_history_has_no_anomaly():
    found = check(with_index(clean()))
    assert not any(found.values()), found


def test_lost_write():
    ops = clean() + [send("p3", 0, 1, "p3-0", 1)]  # acknowledged at offset 1, never read
    only(check(with_index(ops)), "lost")


def test_lost_committed_transaction():
    ops = clean() + [{"f": "txn", "txn": 4, "records": [[0, "t4-a"]], "outcome": "commit", "t0": 2, "t1": 3}]
    only(check(with_index(ops)), "lost")


def test_duplicate():
    ops = clean()
    ops[6]["records"].append([3, "p1-1"])  # the same value again, at a second offset
    only(check(with_index(ops)), "duplicated")


def test_offset_reuse_across_reads():
    ops = clean()
    ops[5]["records"][1] = [1, "p2-0"]  # another replica's read has a different value at offset 1
    found = check(with_index(ops))
    assert found["inconsistent_offset"], found
    assert any(a.get("offset") == 1 for a in found["inconsistent_offset"])


def test_acknowledged_offset_differs_from_read_offset():
    ops = clean()
    ops[3]["offset"] = 7  # acknowledged at 7, read at 0 (offset 7 never read)
    only(check(with_index(ops)), "inconsistent_offset")


def test_reorder_within_a_read():
    ops = clean()
    ops[6]["records"] = [[0, "p1-0"], [2, "p2-0"], [1, "p1-1"]]
    only(check(with_index(ops)), "reordered")


def test_reorder_against_send_order():
    ops = clean()
    ops[0]["offset"], ops[1]["offset"] = 1, 0  # p1 sent p1-0 first, the log has it after p1-1
    ops[5]["records"] = [[0, "p1-1"], [1, "p1-0"]]
    ops[6]["records"] = [[0, "p1-1"], [1, "p1-0"], [2, "p2-0"]]
    ops[17]["records"] = [[0, "p1-1"], [1, "p1-0"]]
    only(check(with_index(ops)), "reordered")


def test_unexpected_value():
    ops = clean()
    ops[7]["records"].append([1, "never-sent"])
    only(check(with_index(ops)), "unexpected")


def test_committed_offset_regression():
    ops = clean() + [{"f": "fetch_committed", "group": "g", "partition": 0, "offset": 2, "outcome": "ok",
                      "t0": 2.0, "t1": 2.1}]  # the commit of 3 had finished at 1.5
    only(check(with_index(ops)), "offset_regression")


def test_skipped_below_committed_offset():
    ops = clean()
    ops[17]["records"] = [[0, "p1-0"]]  # offset 1 < committed 3, never read by the group
    only(check(with_index(ops)), "skipped")


def test_no_loss_claimed_on_an_incomplete_final_read():
    ops = clean() + [send("p3", 0, 1, "p3-0", 1)]
    ops[7]["complete"] = False  # partition 1 could not be read to its end
    found = check(with_index(ops))
    assert not any(found.values()), found


def test_duplicate_in_transactional_topic():
    ops = clean()
    ops[15]["records"].append([4, "t1-a"])  # a committed value twice in the log
    only(check(with_index(ops)), "duplicated")


def test_aborted_read():
    ops = clean()
    ops[15]["records"].append([5, "t2-a"])
    only(check(with_index(ops)), "aborted_read")


def test_torn_transaction():
    ops = clean()
    ops[16]["records"] = [[3, "t3-b"]]  # t1-b missing: txn 1 committed, half visible
    only(check(with_index(ops)), "torn_transaction")


def test_every_anomaly_has_a_test():
    names = {n for n in globals() if n.startswith("test_")}
    covered = {"lost": "test_lost_write", "duplicated": "test_duplicate",
               "inconsistent_offset": "test_offset_reuse_across_reads", "reordered": "test_reorder_within_a_read",
               "unexpected": "test_unexpected_value", "offset_regression": "test_committed_offset_regression",
               "skipped": "test_skipped_below_committed_offset",
               "aborted_read": "test_aborted_read", "torn_transaction": "test_torn_transaction"}
    assert set(covered) == set(ANOMALIES)
    assert set(covered.values()) <= names


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
    from harness import run_tests
    run_tests([f for n, f in list(globals().items()) if n.startswith("test_")])
