// KIP-848 with @platformatic/kafka (groupProtocol "consumer"): two consumers
// in one group get their partitions from the broker's assignor
// (ConsumerGroupHeartbeat), read a topic exactly once between them and
// commit. Prints one JSON line.
// Usage: node kip848_group.js <bootstrap> <topic> <group> <expected records> <assignor>
const { Consumer, stringDeserializers } = require("@platformatic/kafka");

async function main() {
  const [bootstrap, topic, groupId, expectedText, assignor] = process.argv.slice(2);
  const expected = Number(expectedText);
  const seen = [];
  const consumers = [];
  const assignments = [];
  let done;
  const allIn = new Promise((resolve) => (done = resolve));
  const timeout = setTimeout(() => done(), 60000);
  for (let i = 0; i < 2; i++) {
    const consumer = new Consumer({
      groupId, clientId: `kip848-${i}`, bootstrapBrokers: [bootstrap], deserializers: stringDeserializers,
      groupProtocol: "consumer", groupRemoteAssignor: assignor,
    });
    const stream = await consumer.consume({ topics: [topic], mode: "committed", fallbackMode: "earliest",
                                            autocommit: 100 });
    stream.on("data", (message) => {
      seen.push(`${message.partition}:${message.offset}`);
      if (seen.length >= expected) done();
    });
    stream.on("error", (e) => console.error("stream error", e));
    consumers.push(consumer);
    await new Promise((r) => setTimeout(r, 1000));
  }
  await allIn;
  clearTimeout(timeout);
  await new Promise((r) => setTimeout(r, 2000)); // commits land; duplicates would show up
  for (const c of consumers) assignments.push((c.assignments || []).map((a) => [a.topic, a.partitions]));
  for (const c of consumers) await c.close(true);
  console.log(JSON.stringify({ seen: seen.length, unique: new Set(seen).size, assignments }));
}

main().then(() => process.exit(0)).catch((e) => {
  console.error(e);
  process.exit(1);
});
