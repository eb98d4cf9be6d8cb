// KafkaJS over SASL and TLS: connects with the security settings given as
// JSON (ssl: {ca, cert, key} as file names; sasl: {mechanism, username,
// password}), produces three records and reads the topic's offsets back.
// Prints one JSON line: {"ok": true, "high": "3"} or {"ok": false, "error": ...}.
const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic, settingsJson] = process.argv.slice(2);
const settings = JSON.parse(settingsJson);
const config = { clientId: 'kafkajs-secure', brokers: [bootstrap], logLevel: logLevel.NOTHING,
                 retry: { retries: 1 }, connectionTimeout: 5000 };
if (settings.ssl) {
  config.ssl = { ca: [fs.readFileSync(settings.ssl.ca)] };
  if (settings.ssl.cert) {
    config.ssl.cert = fs.readFileSync(settings.ssl.cert);
    config.ssl.key = fs.readFileSync(settings.ssl.key);
  }
}
if (settings.sasl) config.sasl = settings.sasl;

(async () => {
  const kafka = new Kafka(config);
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  const admin = kafka.admin();
  try {
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
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
