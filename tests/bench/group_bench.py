#!/usr/bin/python3
"""Consumer group benchmarks on one stratad, with raw sockets and
kafka-python's encoding so that the time is the broker's:

1. settle: 100 group members (JoinGroup v2 / SyncGroup v1 / Heartbeat v1,
   heartbeat every 100 ms, the leader assigns) join one after another, 10 ms
   apart; the figure is the time from the last member's first JoinGroup to
   the moment every member has its SyncGroup answer for the generation that
   holds all 100.
2. commits: OffsetCommit v2 requests (one partition each) pipelined over
   several connections for a few seconds, each answered after an acks=all
   write (fsync) to __consumer_offsets; the figure is commits per second.

Beside them: `dd bs=4k count=1 oflag=dsync` (one small synchronous write).

    tests/bench/group_bench.py [members] [commit seconds]    (STRATAD=path/to/stratad)
"""

import asyncio
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import perf_tools  # noqa: E402
from harness import Broker  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from kafka.protocol.api import RequestHeader  # noqa: E402
from kafka.protocol.commit import GroupCoordinatorRequest_v0, OffsetCommitRequest_v2  # noqa: E402
from kafka.protocol.group import HeartbeatRequest_v1, JoinGroupRequest_v2, SyncGroupRequest_v1  # noqa: E402


class Connection:
    def __init__(self, reader, writer):
        self.reader, self.writer, self.correlation = reader, writer, 0

    @classmethod
    async def open(cls, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    def frame(self, request):
        self.correlation += 1
        header = RequestHeader(request, correlation_id=self.correlation, client_id="bench")  # encode() holds it weakly
        payload = header.encode() + request.encode()
        return struct.pack(">i", len(payload)) + payload

    async def read(self, request_type):
        size = struct.unpack(">i", await self.reader.readexactly(4))[0]
        body = await self.reader.readexactly(size)
        return request_type.RESPONSE_TYPE.decode(body[4:])

    async def call(self, request):
        self.writer.write(self.frame(request))
        return await self.read(type(request))


async def wait_for_coordinator(port, group):
    conn = await Connection.open(port)
    while True:
        r = await conn.call(GroupCoordinatorRequest_v0(group))
        if r.error_code == 0:
            conn.writer.close()
            return
        await asyncio.sleep(0.05)


async def member(port, group, index, synced, stop):
    conn = await Connection.open(port)
    member_id, joined_at = "", None
    while not stop.is_set():
        if joined_at is None:
            joined_at = time.monotonic()
        join = await conn.call(JoinGroupRequest_v2(group, 30000, 60000, member_id, "consumer",
                                                   [("range", b"\x00\x00\x00\x00\x00\x01\x00\x01t\x00\x00\x00\x00")]))
        if join.error_code == 25:  # UNKNOWN_MEMBER_ID
            member_id = ""
            continue
        if join.error_code != 0:
            await asyncio.sleep(0.05)
            continue
        member_id = join.member_id
        assignments = [(m[0], b"") for m in join.members] if join.leader_id == member_id else []
        sync = await conn.call(SyncGroupRequest_v1(group, join.generation_id, member_id, assignments))
        if sync.error_code != 0:
            continue
        synced[index] = (join.generation_id, time.monotonic(), len(join.members))
        while not stop.is_set():
            await asyncio.sleep(0.1)
            hb = await conn.call(HeartbeatRequest_v1(group, join.generation_id, member_id))
            if hb.error_code != 0:
                break
    conn.writer.close()
    return joined_at


async def settle(port, members):
    group = "settle"
    await wait_for_coordinator(port, group)
    synced, stop = {}, asyncio.Event()
    tasks = []
    for i in range(members):
        tasks.append(asyncio.create_task(member(port, group, i, synced, stop)))
        await asyncio.sleep(0.01)
    last_join = time.monotonic()
    deadline = last_join + 30
    generation = None
    while time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        if len(synced) == members:
            gens = {g for g, _, _ in synced.values()}
            if len(gens) == 1:
                generation = gens.pop()
                break
    done_at = max(t for _, t, _ in synced.values()) if generation is not None else None
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return (done_at - last_join) if done_at else None, generation


async def commits(port, seconds, connections=8, depth=64):
    groups = [f"committer-{i}" for i in range(connections)]
    for g in groups:
        await wait_for_coordinator(port, g)
    count = 0
    errors = 0
    end = time.monotonic() + seconds

    async def run(group):
        nonlocal count, errors
        conn = await Connection.open(port)
        offset = 0
        in_flight = 0

        def send():
            nonlocal offset, in_flight
            offset += 1
            request = OffsetCommitRequest_v2(group, -1, "", -1, [("bench", [(0, offset, "")])])
            conn.writer.write(conn.frame(request))
            in_flight += 1

        for _ in range(depth):
            send()
        while in_flight:
            r = await conn.read(OffsetCommitRequest_v2)
            in_flight -= 1
            if r.topics[0][1][0][1] != 0:
                errors += 1
            else:
                count += 1
            if time.monotonic() < end:
                send()
        conn.writer.close()

    start = time.monotonic()
    await asyncio.gather(*(run(g) for g in groups))
    return count / (time.monotonic() - start), errors


def main():
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5
    with Broker(extra_env={"STRATA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0", "STRATA_LOG_LEVEL": "warn"}) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})  # alive until the result is in
        admin.create_topics([NewTopic("bench", num_partitions=1, replication_factor=1)])["bench"].result(15)
        took, generation = asyncio.run(settle(broker.port, members))
        print(f"settle: {members} members, last join -> all synced in generation {generation}: "
              f"{took * 1000:.0f} ms" if took is not None else "settle: did not settle within 30 s")
        rate, errors = asyncio.run(commits(broker.port, seconds))
        print(f"commits: {rate:.0f} offset commits/s over {seconds:.0f} s (8 connections x 64 in flight, "
              f"acks=all), {errors} errors")
        fastest, median = perf_tools.dsync_write_ms(broker.data_dir)
        print(f"beside: dd bs=4k count=1 oflag=dsync: fastest {fastest:.2f} ms, median {median:.2f} ms "
              f"(process start included)")
        print(f"load average: {os.getloadavg()[0]:.1f}, cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
