// KafkaJS and KIP-368: produces `rounds` records one at a time, `pauseMs`
// apart, over a SASL connection whose session is shorter than the run, so
// that KafkaJS re-authenticates its connections (reauthenticationThreshold
// before the session's end); then reads the topic's offsets back.
// Prints one JSON line: {"ok": true, "high": "<rounds>"} or {"ok": false, "error": ...}.
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic, settingsJson] = process.argv.slice(2);
const settings = JSON.parse(settingsJson);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

(async () => {
  const kafka = new Kafka({ clientId: 'kafkajs-reauth', brokers: [bootstrap], logLevel: logLevel.NOTHING,
                            retry: { retries: 1 }, connectionTimeout: 5000, sasl: settings.sasl,
                            reauthenticationThreshold: settings.reauthenticationThreshold });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  const admin = kafka.admin();
  try {
    await producer.connect();
    for (let i = 0; i < settings.rounds; i++) {
      await producer.send({ topic, messages: [{ value: `m${i}` }] });
      await sleep(settings.pauseMs);
    }
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    console.log(JSON.stringify({ ok: true, high: offsets[0].high }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: `${e.name}: ${e.message}`, type: e.type || null }));
  } finally {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
})();
