// KIP-848 with @platformatic/kafka (groupProtocol "consumer"), long-running:
// two consumers in one group read a topic and commit (autocommit), across
// whatever the broker goes through meanwhile. Prints one JSON line per
// event: {"record": [consumer, partition, offset]} for each record read and
// {"assigned": [consumer, memberId, partitions]} when an assignment changes.
// Closes the consumers (leaving the group) when stdin closes, then prints
// {"closed": true}.
// Usage: node kip848_member.js <bootstrap> <topic> <group>
const { Consumer, stringDeserializers } = require("@platformatic/kafka");

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

async function main() {
  const [bootstrap, topic, groupId] = process.argv.slice(2);
  const consumers = [];
  for (let i = 0; i < 2; i++) {
    const consumer = new Consumer({
      groupId, clientId: `kip848-member-${i}`, bootstrapBrokers: [bootstrap], deserializers: stringDeserializers,
      groupProtocol: "consumer", groupRemoteAssignor: "uniform", retries: 1000, retryDelay: 250,
    });
    const stream = await consumer.consume({ topics: [topic], mode: "committed", fallbackMode: "earliest",
                                            autocommit: 100 });
    stream.on("data", (message) => emit({ record: [i, message.partition, Number(message.offset)] }));
    stream.on("error", (e) => console.error("stream error", e.message));
    consumers.push(consumer);
  }
  const last = ["", ""];
  const watch = setInterval(() => {
    consumers.forEach((c, i) => {
      const partitions = (c.assignments || []).flatMap((a) => a.partitions).sort((x, y) => x - y);
      const now = JSON.stringify([c.memberId, partitions]);
      if (now !== last[i]) {
        last[i] = now;
        emit({ assigned: [i, c.memberId, partitions] });
      }
    });
  }, 100);
  await new Promise((resolve) => {
    process.stdin.on("end", resolve);
    process.stdin.on("close", resolve);
    process.stdin.resume();
  });
  clearInterval(watch);
  for (const c of consumers) await c.close(true);
  emit({ closed: true });
}

main().then(() => process.exit(0)).catch((e) => {
  console.error(e);
  process.exit(1);
});
