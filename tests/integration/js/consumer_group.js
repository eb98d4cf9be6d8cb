// KafkaJS in a consumer group against Strata: two consumers in one group
// read a topic's records exactly once between them, commit, and the admin
// client describes the group and fetches its offsets. Prints one JSON line.
// Usage: node consumer_group.js <bootstrap> <topic> <group> <expected records>
const { Kafka, logLevel } = require("kafkajs");

async function main() {
  const [bootstrap, topic, groupId, expectedText] = process.argv.slice(2);
  const expected = Number(expectedText);
  const kafka = new Kafka({ clientId: "kafkajs-it", brokers: [bootstrap], logLevel: logLevel.INFO });
  const seen = [];
  const consumers = [];
  let done;
  const allIn = new Promise((resolve) => (done = resolve));
  for (let i = 0; i < 2; i++) {
    const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500 });
    consumer.on(consumer.events.CRASH, (e) => console.error("CRASH", JSON.stringify(e.payload.error.message || e.payload)));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.push(`${partition}:${message.offset}`);
        if (seen.length >= expected) done();
      },
    });
    consumers.push(consumer);
  }
  const timeout = setTimeout(() => done(), 60000);
  await allIn;
  clearTimeout(timeout);
  await new Promise((r) => setTimeout(r, 1500)); // duplicates would show up now
  const admin = kafka.admin();
  await admin.connect();
  // A rebalance may still be running (a member that joined late): wait for it.
  let group;
  for (let i = 0; i < 100; i++) {
    group = (await admin.describeGroups([groupId])).groups[0];
    if (group.state === "Stable" && group.members.length === 2) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const members = group.members.map((m) => m.memberId);
  for (const c of consumers) await c.disconnect(); // commits what it read
  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  const groups = await admin.listGroups();
  await admin.disconnect();
  console.log(JSON.stringify({
    seen: seen.length,
    unique: new Set(seen).size,
    state: group.state,
    protocol: group.protocol,
    members: members.length,
    committed: offsets[0].partitions.map((p) => [p.partition, Number(p.offset)]),
    listed: groups.groups.map((g) => g.groupId),
  }));
}

main().then(() => process.exit(0)).catch((e) => {
  console.error(e);
  process.exit(1);
});
