"""Checks a history (a list of operation dicts, as history.py writes them)
and names every anomaly with the operations that show it.

Operations (field `f`):
- send: {proc, partition, value, seq, outcome: ok|info, offset (when ok)}:
  one record of an idempotent acks=all producer; `info` is indeterminate
  (it may or may not have been written).
- read: {node, partition, records: [[offset, value], ...], final}: the records
  one fetch session saw, in the order it saw them. Final reads come after
  the heal and cover each partition from its start to its high watermark.
- commit: {group, partition, offset, outcome}: an OffsetCommit.
- fetch_committed: {group, partition, offset, outcome}: an OffsetFetch.
- txn: {txn, records: [[partition, value], ...], outcome: commit|abort|info}.
- read_committed: like read, for the transactional topic, isolation
  read_committed.

A final read carries `complete` (false when it could not reach the high
watermark): a lost write is only claimed in a partition read to the end.
A read by a consumer group member carries `group`.

Anomalies: lost, duplicated, inconsistent_offset, reordered, unexpected,
offset_regression, skipped (a record below a group's committed offset that
no member of the group ever read), aborted_read, torn_transaction."""

from collections import defaultdict

ANOMALIES = ["lost", "duplicated", "inconsistent_offset", "reordered", "unexpected", "offset_regression",
             "skipped", "aborted_read", "torn_transaction"]


def check(ops):
    found = {name: [] for name in ANOMALIES}
    _check_queue(ops, found)
    _check_committed_offsets(ops, found)
    _check_transactions(ops, found)
    return found


def _check_queue(ops, found):
    sends = [op for op in ops if op["f"] == "send"]
    reads = [op for op in ops if op["f"] == "read"]
    sent = {op["value"]: op for op in sends}
    # Every (partition, offset) -> the values read or acknowledged there.
    at_offset = defaultdict(lambda: defaultdict(list))
    # Every value -> the (partition, offset) places it was read at.
    places = defaultdict(set)
    final_values = set()
    for op in reads:
        last = None
        for offset, value in op["records"]:
            at_offset[(op["partition"], offset)][value].append(f"read by {op['proc']} from node {op.get('node')}")
            places[value].add((op["partition"], offset))
            if op.get("final"):
                final_values.add(value)
            if last is not None and offset <= last:
                found["reordered"].append({"why": f"offset {offset} after {last} in one read",
                                           "partition": op["partition"], "op": op["index"]})
            last = offset
            if value not in sent:
                found["unexpected"].append({"why": "read a value no producer sent", "value": value,
                                            "partition": op["partition"], "offset": offset})
    for op in sends:
        if op["outcome"] == "ok" and op.get("offset") is not None and op["offset"] >= 0:
            at_offset[(op["partition"], op["offset"])][op["value"]].append(f"acknowledged to {op['proc']}")
    for (partition, offset), values in sorted(at_offset.items()):
        if len(values) > 1:
            found["inconsistent_offset"].append({"partition": partition, "offset": offset,
                                                 "values": {v: w for v, w in values.items()}})
    for value, where in places.items():
        if len(where) > 1:
            found["duplicated"].append({"value": value, "at": sorted(where)})
        op = sent.get(value)
        if op and any(partition != op["partition"] for partition, _ in where):
            found["inconsistent_offset"].append({"why": "read in another partition than sent", "value": value,
                                                 "sent_to": op["partition"], "at": sorted(where)})
    for op in sends:
        where = places.get(op["value"])
        if op["outcome"] == "ok" and where and op.get("offset") is not None and op["offset"] >= 0 \
                and (op["partition"], op["offset"]) not in where:
            found["inconsistent_offset"].append({"why": "read at another offset than acknowledged",
                                                 "value": op["value"], "acked": op["offset"], "at": sorted(where)})
    complete = {op["partition"] for op in reads if op.get("final") and op.get("complete", True)}
    for op in sends:
        if op["outcome"] == "ok" and op["partition"] in complete and op["value"] not in final_values:
            found["lost"].append({"value": op["value"], "partition": op["partition"], "offset": op.get("offset"),
                                  "acked_at": op["t1"], "proc": op["proc"]})
    # One producer's values to one partition sit in send order.
    by_stream = defaultdict(list)
    for value, where in places.items():
        op = sent.get(value)
        if op and len(where) == 1:
            by_stream[(op["proc"], op["partition"])].append((op["seq"], next(iter(where))[1], value))
    for (proc, partition), entries in by_stream.items():
        entries.sort()
        for (seq_a, off_a, val_a), (seq_b, off_b, val_b) in zip(entries, entries[1:]):
            if off_b <= off_a:
                found["reordered"].append({"why": f"{proc} sent {val_a} before {val_b}",
                                           "partition": partition, "offsets": [off_a, off_b]})


def _check_committed_offsets(ops, found):
    """A committed offset never moves back: each OffsetFetch answers at least
    the highest offset whose commit (or fetch) finished before it started.
    The workload commits increasing offsets only, so any decrease is the
    broker's."""
    events = defaultdict(list)
    for op in ops:
        if op["f"] in ("commit", "fetch_committed") and op["outcome"] == "ok":
            events[(op["group"], op["partition"])].append(op)
    for key, evs in events.items():
        done = sorted(evs, key=lambda op: op["t1"])
        for op in evs:
            if op["f"] != "fetch_committed":
                continue
            floor = max((e["offset"] for e in done if e["t1"] < op["t0"]), default=None)
            if floor is not None and op["offset"] < floor:
                found["offset_regression"].append({"group": key[0], "partition": key[1], "fetched": op["offset"],
                                                   "at_least": floor, "op": op["index"]})
    # Members commit only positions they read up to, and start where the
    # group's committed offset is: so every record below the highest
    # committed offset was read by some member, unless the broker answered
    # a committed offset (or a fetch) that jumped over it.
    final = {}
    for op in ops:
        if op["f"] == "read" and op.get("final") and op.get("complete", True):
            final[op["partition"]] = op["records"]
    group_read = defaultdict(set)
    for op in ops:
        if op["f"] == "read" and op.get("group") is not None:
            group_read[(op["group"], op["partition"])].update(offset for offset, _ in op["records"])
    for (group, partition), evs in events.items():
        top = max((e["offset"] for e in evs if e["f"] == "commit"), default=None)
        if top is None or partition not in final:
            continue
        missed = [offset for offset, _ in final[partition]
                  if offset < top and offset not in group_read[(group, partition)]]
        if missed:
            found["skipped"].append({"group": group, "partition": partition, "committed": top,
                                     "unread_offsets": missed[:20], "count": len(missed)})


def _check_transactions(ops, found):
    txns = [op for op in ops if op["f"] == "txn"]
    reads = [op for op in ops if op["f"] == "read_committed"]
    if not reads:
        return
    seen = set()
    places = defaultdict(set)
    for op in reads:
        seen.update(value for _, value in op["records"])
        last = None
        for offset, value in op["records"]:
            places[value].add((op["partition"], offset))
            if last is not None and offset <= last:
                found["reordered"].append({"why": f"offset {offset} after {last} in one read_committed read",
                                           "partition": op["partition"], "op": op["index"]})
            last = offset
    for value, where in places.items():
        if len(where) > 1:
            found["duplicated"].append({"value": value, "at": sorted(where), "topic": "transactional"})
    final_seen = set()
    final_complete = set()
    for op in reads:
        if op.get("final"):
            final_seen.update(value for _, value in op["records"])
            if op.get("complete", True):
                final_complete.add(op["partition"])
    known = {value for txn in txns for _, value in txn["records"]}
    for value in seen - known:
        found["unexpected"].append({"why": "read_committed saw a value no transaction wrote", "value": value})
    for txn in txns:
        values = [value for _, value in txn["records"]]
        if txn["outcome"] == "abort":
            visible = [v for v in values if v in seen]
            if visible:
                found["aborted_read"].append({"txn": txn["txn"], "visible": visible})
        if any(partition not in final_complete for partition, _ in txn["records"]):
            continue  # a partition not read to its end: no claim of loss or tearing
        present = [v for v in values if v in final_seen]
        if txn["outcome"] == "commit" and not present:
            found["lost"].append({"txn": txn["txn"], "why": "committed transaction absent", "values": values})
        elif txn["outcome"] == "commit" and len(present) != len(values):
            found["torn_transaction"].append({"txn": txn["txn"], "missing": sorted(set(values) - set(present))})
        elif txn["outcome"] == "info" and 0 < len(present) < len(values):
            found["torn_transaction"].append({"txn": txn["txn"], "partial": present,
                                              "missing": sorted(set(values) - set(present))})
