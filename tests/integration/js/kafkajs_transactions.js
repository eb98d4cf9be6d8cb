// KafkaJS transactions against Strata: one transactional producer commits a
// transaction, aborts another, then consume-transform-produce style commits
// one with sendOffsets (the group's offset lands with it) and aborts another
// with sendOffsets (its offset must not land). A read_committed and a
// read_uncommitted KafkaJS consumer then read the output topic; the admin
// client fetches the group's committed offsets. Prints one JSON line.
// Usage: node kafkajs_transactions.js <bootstrap> <output topic> <input topic> <group>
const { Kafka, logLevel } = require("kafkajs");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function readAll(kafka, topic, readUncommitted, expected) {
  const consumer = kafka.consumer({ groupId: `reader-${readUncommitted}-${Date.now()}`, readUncommitted,
                                    sessionTimeout: 6000, heartbeatInterval: 500 });
  const values = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value.toString()); } });
  // Until the expected count arrives, then a little longer: extra records would show up now.
  const deadline = Date.now() + 30000;
  while (values.length < expected && Date.now() < deadline) await sleep(100);
  await sleep(1500);
  await consumer.disconnect();
  return values;
}

async function main() {
  const [bootstrap, topic, input, groupId] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: "kafkajs-txn", brokers: [bootstrap], logLevel: logLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }, { topic: input, numPartitions: 1 }],
                             waitForLeaders: true });

  // KafkaJS's sendOffsets does not retry a TxnOffsetCommit answered
  // COORDINATOR_LOAD_IN_PROGRESS (the Java client does), and on a fresh
  // broker the group's __consumer_offsets partition is still loading for a
  // moment after it is created. Ask for the group's offsets first, retrying
  // that retriable error, so that the coordinator is loaded.
  for (const deadline = Date.now() + 30000; ; await sleep(100)) {
    try {
      await admin.fetchOffsets({ groupId, topics: [input] });
      break;
    } catch (e) {
      if (!e.retriable || Date.now() > deadline) throw e;
    }
  }

  const producer = kafka.producer({ transactionalId: "kafkajs-txn-1", maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  const send = (txn, prefix, n) =>
    txn.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `${prefix}${i}` })) });

  let txn = await producer.transaction();
  await send(txn, "commit-", 6);
  await txn.commit();

  txn = await producer.transaction();
  await send(txn, "abort-", 4);
  await txn.abort();

  txn = await producer.transaction();
  await send(txn, "ctp-", 3);
  await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: "7" }] }] });
  await txn.commit();

  txn = await producer.transaction();
  await send(txn, "ctp-aborted-", 2);
  await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: "9" }] }] });
  await txn.abort();
  await producer.disconnect();

  const committed = await readAll(kafka, topic, false, 9);
  const uncommitted = await readAll(kafka, topic, true, 15);
  const offsets = await admin.fetchOffsets({ groupId, topics: [input] });
  await admin.disconnect();
  console.log(JSON.stringify({
    committed: committed.sort(),
    uncommitted: uncommitted.sort(),
    offsets: offsets[0].partitions.map((p) => [p.partition, Number(p.offset)]),
  }));
}

main().then(() => process.exit(0)).catch((e) => {
  console.error(e);
  process.exit(1);
});
