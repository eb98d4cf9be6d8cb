"""The chaos workloads, each a thread that records every operation it makes
into a History (see checker.py for the operation kinds):

- QueueProducer: an idempotent acks=all producer (confluent-kafka, that is
  librdkafka) writing unique values to chosen partitions of the queue topic;
  one `send` per record. A delivery error is `info` (it may have been
  written: a timed-out request can still land), except a record purged
  before it was sent (`fail`). A fatal error (the idempotent producer gave
  up its sequence) replaces the producer: the new one is another `proc`,
  since ordering is promised per producer only.
- GroupMember: a consumer of group `chaos`, committing what it read (sync
  OffsetCommit, one `commit` per partition) and reading its committed
  offsets back now and then (`fetch_committed`); members leave and new ones
  join during the run, so the group rebalances under the faults too. What
  members read is recorded as non-final `read`s: a value read at an offset
  in one term and another value at that offset later is an offset reuse.
- CrashingGroupMember: more members of the same group, each in a child
  process (this file run as `workload.py member ...`, reporting its
  operations as JSON lines); about half of them end by SIGKILL (`crash`:
  no last commit, no LeaveGroup; the group reassigns their partitions at
  session.timeout.ms) instead of leaving.
- TxnProducer: a transactional producer: each transaction writes 1-4 values
  across the partitions of the transactional topic, then commits (4 in 5)
  or aborts; `txn` records the outcome the client was told (`info` when it
  could not tell).
- TxnReader: a read_committed consumer of the transactional topic during
  the run (`read_committed`, non-final).
- final_read(): after the heal, every partition from its log start to its
  high watermark (the queue read_uncommitted, the transactional topic
  read_committed): the `final` reads the lost-write check trusts."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

# librdkafka logs only critical errors: under faults, every refused
# connection is an error line; the history records what matters.
QUIET = {"log_level": 2}
# STRATA_CHAOS_PRODUCER_DEBUG=eos (librdkafka debug contexts) logs the
# idempotent producers' state changes (epoch bumps, sequence resets) to
# stderr, to tell a broker's duplicate from a client's re-send.
PRODUCER_DEBUG = ({"debug": os.environ["STRATA_CHAOS_PRODUCER_DEBUG"], "log_level": 7}
                  if os.environ.get("STRATA_CHAOS_PRODUCER_DEBUG") else {})


def _err_name(err):
    try:
        return err.name()
    except Exception:
        return str(err)


class Worker(threading.Thread):
    def __init__(self, name, bootstrap, history, rng, stop):
        super().__init__(name=name, daemon=True)
        self.bootstrap, self.history, self.rng, self.stop_event = bootstrap, history, rng, stop
        self.errors = []

    def run(self):
        try:
            self.work()
        except Exception as e:  # a workload bug must show in the report, not vanish in a thread
            import traceback
            self.errors.append(f"{self.name}: {e!r}\n{traceback.format_exc()}")


class QueueProducer(Worker):
    def __init__(self, index, bootstrap, history, rng, stop, topic, partitions, rate):
        super().__init__(f"p{index}", bootstrap, history, rng, stop)
        self.index, self.topic, self.partitions, self.rate = index, topic, partitions, rate
        self.generation = 0
        self.acked = 0

    def _new_producer(self):
        self.fatal = None
        self.proc = f"p{self.index}.{self.generation}"
        self.seq = 0
        self.generation += 1

        def on_error(err):
            if err.fatal():
                self.fatal = err

        return Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all",
                         "message.timeout.ms": 10000, "request.timeout.ms": 5000, "linger.ms": 2,
                         "error_cb": on_error, **QUIET, **PRODUCER_DEBUG})

    def _callback(self, op):
        def done(err, msg):
            op["t1"] = self.history.now()
            if err is None:
                op["outcome"], op["offset"] = "ok", msg.offset()
                self.acked += 1
            else:
                purged = err.code() == KafkaError._PURGE_QUEUE
                op["outcome"], op["error"] = ("fail" if purged else "info"), _err_name(err)
            self.history.add(op)
        return done

    def _retire(self, producer):
        producer.purge(in_queue=True, in_flight=False)
        producer.flush(15)

    def work(self):
        producer = self._new_producer()
        period = 1.0 / self.rate
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            if self.fatal is not None:
                self.history.add({"f": "client_fatal", "proc": self.proc, "error": _err_name(self.fatal),
                                  "t0": self.history.now(), "t1": self.history.now()})
                self._retire(producer)
                producer = self._new_producer()
            partition = self.rng.randrange(self.partitions)
            value = f"{self.proc}-{self.seq}"
            op = {"f": "send", "proc": self.proc, "seq": self.seq, "partition": partition, "value": value,
                  "t0": self.history.now()}
            self.seq += 1
            try:
                producer.produce(self.topic, value.encode(), partition=partition, on_delivery=self._callback(op))
            except BufferError:
                op.update(t1=self.history.now(), outcome="fail", error="queue full")
                self.history.add(op)
            producer.poll(0)
            next_at += period
            if next_at < time.monotonic():
                next_at = time.monotonic()  # behind (a GIL-starved moment): no burst to catch up
            # poll() returns as soon as it has served a callback: poll until
            # the next send is due.
            while (delay := next_at - time.monotonic()) > 0:
                producer.poll(delay)
        # Every record gets its callback: acknowledged, failed or timed out.
        producer.flush(30)


class GroupMember(Worker):
    """Members of one group take turns: each lives 10-30 s, then leaves
    (close: LeaveGroup) and a new member joins in its place."""

    def __init__(self, index, bootstrap, history, rng, stop, topic, partitions, group="chaos"):
        super().__init__(f"g{index}", bootstrap, history, rng, stop)
        self.index, self.topic, self.partitions, self.group = index, topic, partitions, group
        self.incarnation = 0
        self.assigned = set()

    def _member(self):
        self.proc = f"g{self.index}.{self.incarnation}"
        self.incarnation += 1
        self.assigned = set()
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group,
                             "enable.auto.commit": False, "auto.offset.reset": "earliest",
                             "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
                             "partition.assignment.strategy": "range", **QUIET})

        def on_assign(c, partitions):
            self.assigned = {tp.partition for tp in partitions}

        def on_revoke(c, partitions):
            self.assigned = set()

        consumer.subscribe([self.topic], on_assign=on_assign, on_revoke=on_revoke)
        return consumer

    def _commit(self, consumer, positions):
        # Only partitions still assigned: a member that lost a partition in
        # a rebalance must not write its older position over the new owner's.
        offsets = [TopicPartition(self.topic, p, o) for p, o in sorted(positions.items()) if p in self.assigned]
        if not offsets:
            return
        t0 = self.history.now()
        try:
            result = consumer.commit(offsets=offsets, asynchronous=False)
            errors = {tp.partition: tp.error for tp in result or [] if tp.error}
            outcome = None
        except KafkaException as e:
            errors, outcome = {}, ("info", _err_name(e.args[0]))
        t1 = self.history.now()
        for tp in offsets:
            op = {"f": "commit", "proc": self.proc, "group": self.group, "partition": tp.partition,
                  "offset": tp.offset, "t0": t0, "t1": t1}
            if outcome:
                op["outcome"], op["error"] = outcome
            elif tp.partition in errors:
                op["outcome"], op["error"] = "info", _err_name(errors[tp.partition])
            else:
                op["outcome"] = "ok"
            self.history.add(op)

    def _fetch_committed(self, consumer):
        tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        t0 = self.history.now()
        try:
            result = consumer.committed(tps, timeout=5)
        except KafkaException as e:
            self.history.add({"f": "fetch_committed", "proc": self.proc, "group": self.group, "partition": None,
                              "outcome": "info", "error": _err_name(e.args[0]), "t0": t0,
                              "t1": self.history.now()})
            return
        t1 = self.history.now()
        for tp in result:
            if tp.error or tp.offset < 0:
                continue
            self.history.add({"f": "fetch_committed", "proc": self.proc, "group": self.group,
                              "partition": tp.partition, "offset": tp.offset, "outcome": "ok", "t0": t0, "t1": t1})

    def work(self):
        while not self.stop_event.is_set():
            self.run_one(self.rng.uniform(10, 30))

    def run_one(self, lifetime, proc=None):
        """One member: joins, reads and commits for `lifetime` seconds (or
        until stopped), then leaves (close: LeaveGroup). `proc` names it
        (default: g<index>.<incarnation>)."""
        consumer = self._member()
        if proc:
            self.proc = proc
        ends = time.monotonic() + lifetime
        next_fetch = time.monotonic() + 2
        while not self.stop_event.is_set() and time.monotonic() < ends:
            t0 = self.history.now()
            msgs = consumer.consume(200, 0.5)
            t1 = self.history.now()
            by_partition, positions = {}, {}
            for msg in msgs:
                if msg.error():
                    continue
                by_partition.setdefault(msg.partition(), []).append([msg.offset(), msg.value().decode()])
                positions[msg.partition()] = msg.offset() + 1
            for partition, records in by_partition.items():
                self.history.add({"f": "read", "proc": self.proc, "group": self.group, "node": None,
                                  "partition": partition, "records": records, "final": False, "t0": t0,
                                  "t1": t1})
            self._commit(consumer, positions)
            if time.monotonic() >= next_fetch:
                self._fetch_committed(consumer)
                next_fetch = time.monotonic() + 2
        self.history.add({"f": "leave", "proc": self.proc, "t0": self.history.now(), "t1": self.history.now()})
        consumer.close()


class _PrintHistory:
    """A member's history in a child process: each operation goes to stdout
    as one JSON line, for the parent to add to the run's history. Its clock
    is the parent's (time.monotonic is system-wide)."""

    def __init__(self, start):
        self.start = start
        self._lock = threading.Lock()

    def now(self):
        return round(time.monotonic() - self.start, 4)

    def add(self, op):
        with self._lock:
            sys.stdout.write(json.dumps(op) + "\n")
            sys.stdout.flush()
        return op


class CrashingGroupMember(GroupMember):
    """Members of the same group, each in a child process of its own; at the
    end of its 10-30 s life about half of them crash (SIGKILL: no last
    commit, no LeaveGroup, so the group takes its partitions back only at
    session.timeout.ms) and the others leave as GroupMember's do. A crash is
    recorded as `crash`. What a member read is reported before it commits,
    so a member killed in between leaves a read without its commit, never
    a commit without its read."""

    def work(self):
        while not self.stop_event.is_set():
            proc = f"g{self.index}.{self.incarnation}"
            self.incarnation += 1
            crash = self.rng.random() < 0.5
            ends = time.monotonic() + self.rng.uniform(10, 30)
            child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "member", self.bootstrap, self.topic,
                                      str(self.partitions), self.group, proc, repr(self.history.start)],
                                     stdout=subprocess.PIPE, text=True)
            reader = threading.Thread(target=self._forward, args=(child,), daemon=True)
            reader.start()
            while not self.stop_event.is_set() and time.monotonic() < ends and child.poll() is None:
                time.sleep(0.1)
            if crash and child.poll() is None:
                child.kill()
                self.history.add({"f": "crash", "proc": proc, "t0": self.history.now(), "t1": self.history.now()})
            else:
                child.send_signal(signal.SIGTERM)  # the child leaves the group and exits
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            reader.join(10)
            if child.returncode not in (0, -signal.SIGKILL):
                self.errors.append(f"{proc}: member process exited with {child.returncode}")

    def _forward(self, child):
        for line in child.stdout:
            try:
                self.history.add(json.loads(line))
            except ValueError:
                pass  # a line cut by the SIGKILL


def _member_main(bootstrap, topic, partitions, group, proc, start):
    """A CrashingGroupMember's child: one member until SIGTERM (or SIGKILL)."""
    import random
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    member = GroupMember(0, bootstrap, _PrintHistory(start), random.Random(proc), stop, topic, partitions, group)
    member.run_one(float("inf"), proc=proc)


class TxnProducer(Worker):
    def __init__(self, index, bootstrap, history, rng, stop, topic, partitions):
        super().__init__(f"tx{index}", bootstrap, history, rng, stop)
        self.index, self.topic, self.partitions = index, topic, partitions
        self.n = 0
        self.committed = 0

    def _producer(self):
        """A producer with its transactional id initialised (which fences
        the previous one and finishes its open transaction), or None when
        the run ends first."""
        while not self.stop_event.is_set():
            producer = Producer({"bootstrap.servers": self.bootstrap, "transactional.id": f"chaos-tx-{self.index}",
                                 "acks": "all", "enable.idempotence": True, "message.timeout.ms": 10000,
                                 "transaction.timeout.ms": 20000, **QUIET})
            try:
                producer.init_transactions(15)
                return producer
            except KafkaException as e:
                self.history.add({"f": "client_fatal", "proc": self.name, "error": f"init: {_err_name(e.args[0])}",
                                  "t0": self.history.now(), "t1": self.history.now()})
                time.sleep(0.5)
        return None

    def _finish(self, producer, commit):
        """Commits or aborts the open transaction: (outcome, producer to use
        next). The outcome is what the client knows: `commit`, `abort`, or
        `info` when it cannot tell."""
        if commit:
            for _ in range(5):
                try:
                    producer.commit_transaction(10)
                    return "commit", producer
                except KafkaException as e:
                    err = e.args[0]
                    if err.retriable():
                        continue  # the same commit again: librdkafka resumes it
                    if err.txn_requires_abort():
                        break
                    return "info", None  # fatal: the next producer's init ends it either way
            else:
                return "info", None
        try:
            producer.abort_transaction(10)
            return "abort", producer
        except KafkaException:
            return ("info" if commit else "abort?"), None

    def work(self):
        producer = self._producer()
        while producer is not None and not self.stop_event.is_set():
            n, self.n = self.n, self.n + 1
            records = [[self.rng.randrange(self.partitions), f"tx{self.index}-{n}-{j}"]
                       for j in range(self.rng.randint(1, 4))]
            commit = self.rng.random() < 0.8
            t0 = self.history.now()
            try:
                producer.begin_transaction()
                for partition, value in records:
                    producer.produce(self.topic, value.encode(), partition=partition)
                    producer.poll(0)
                outcome, next_producer = self._finish(producer, commit)
            except KafkaException as e:
                outcome, next_producer = "info", None
                self.history.add({"f": "client_fatal", "proc": self.name, "error": _err_name(e.args[0]),
                                  "t0": t0, "t1": self.history.now()})
            # An abort the client could not confirm is an abort all the same
            # once the next producer's InitProducerId fences this one; a
            # commit it could not confirm may have happened.
            if outcome == "abort?":
                outcome = "abort"
            self.history.add({"f": "txn", "proc": self.name, "txn": f"tx{self.index}-{n}", "records": records,
                              "outcome": outcome, "t0": t0, "t1": self.history.now()})
            if outcome == "commit":
                self.committed += 1
            if next_producer is None:
                # Given up (fatal, or unconfirmed): a new instance with the
                # same transactional.id fences this one and ends its
                # transaction. The old one may raise its fatal error again.
                try:
                    producer.flush(0)
                except KafkaException:
                    pass
                producer = self._producer()
            else:
                producer = next_producer
            time.sleep(self.rng.uniform(0.05, 0.2))


class TxnReader(Worker):
    def __init__(self, bootstrap, history, rng, stop, topic, partitions):
        super().__init__("txr", bootstrap, history, rng, stop)
        self.topic, self.partitions = topic, partitions

    def work(self):
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "chaos-txn-reader",
                             "enable.auto.commit": False, "isolation.level": "read_committed", **QUIET})
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in range(self.partitions)])
        while not self.stop_event.is_set():
            t0 = self.history.now()
            msgs = consumer.consume(500, 0.5)
            t1 = self.history.now()
            by_partition = {}
            for msg in msgs:
                if not msg.error():
                    by_partition.setdefault(msg.partition(), []).append([msg.offset(), msg.value().decode()])
            for partition, records in by_partition.items():
                self.history.add({"f": "read_committed", "proc": "txr", "partition": partition, "records": records,
                                  "final": False, "t0": t0, "t1": t1})
        consumer.close()


def final_read(bootstrap, history, topic, partitions, read_committed=False, timeout=90.0):
    """Reads every partition from its log start to its high watermark (to
    its last stable offset when read_committed) and records one final read
    each. Returns the partitions it could not read to the end."""
    f = "read_committed" if read_committed else "read"
    incomplete = []
    for partition in range(partitions):
        deadline = time.monotonic() + timeout
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "chaos-final", "enable.auto.commit": False,
                             "isolation.level": "read_committed" if read_committed else "read_uncommitted",
                             **QUIET})
        tp = TopicPartition(topic, partition)
        t0 = history.now()
        end = None
        while end is None and time.monotonic() < deadline:
            try:
                low, end = consumer.get_watermark_offsets(tp, timeout=5, cached=False)
            except KafkaException:
                time.sleep(0.5)
        records = []
        if end is not None:
            consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
            position = low
            while position < end and time.monotonic() < deadline:
                for msg in consumer.consume(1000, 1.0):
                    if msg.error():
                        continue
                    records.append([msg.offset(), msg.value().decode()])
                    position = msg.offset() + 1
                # Control records (commit/abort markers) and aborted records
                # move the position without a message.
                got = consumer.position([TopicPartition(topic, partition)])[0].offset
                if got >= 0:
                    position = max(position, got)
        complete = end is not None and position >= end
        if not complete:
            incomplete.append(partition)
        history.add({"f": f, "proc": "final", "node": None, "partition": partition, "records": records,
                     "final": True, "complete": complete, "log_start": low if end is not None else None,
                     "high_watermark": end, "t0": t0, "t1": history.now()})
        consumer.close()
    return incomplete


if __name__ == "__main__" and len(sys.argv) == 8 and sys.argv[1] == "member":
    _member_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6], float(sys.argv[7]))
