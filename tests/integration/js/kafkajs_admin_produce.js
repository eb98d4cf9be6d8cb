// KafkaJS against stratad: admin (create, describe, alter configs, offsets,
// delete records, delete topic) and a producer sending keyed records with
// headers in every codec KafkaJS has. Prints one JSON line of what it saw;
// test_kafkajs.py checks it and reads the records back with other clients.
const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs');

const codecs = [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP]];
try {
  CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy');
  codecs.push(['snappy', CompressionTypes.Snappy]);
} catch (e) { /* optional codec missing */ }
try {
  const LZ4 = require('kafkajs-lz4');
  CompressionCodecs[CompressionTypes.LZ4] = new LZ4().codec;
  codecs.push(['lz4', CompressionTypes.LZ4]);
} catch (e) { /* optional codec missing */ }
try {
  const { compress, decompress } = require('@mongodb-js/zstd');
  CompressionCodecs[CompressionTypes.ZSTD] = () => ({
    compress: (encoder) => compress(encoder.buffer),
    decompress: (buffer) => decompress(buffer),
  });
  codecs.push(['zstd', CompressionTypes.ZSTD]);
} catch (e) { /* optional codec missing */ }

const [bootstrap, topic, total] = [process.argv[2], process.argv[3], Number(process.argv[4])];

function value(codec, i) {
  return `value ${codec} ${i} ` + 'kafkajs'.repeat(i % 50);
}

async function main() {
  const kafka = new Kafka({ clientId: 'strata-kafkajs-test', brokers: [bootstrap], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  const out = { codecs: codecs.map((c) => c[0]) };

  out.created = await admin.createTopics({
    topics: [{ topic, numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
    waitForLeaders: true,
  });
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  out.partitions = md.topics[0].partitions.map((p) => p.partitionId).sort();

  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: 2, name: topic, configEntries: [{ name: 'retention.bytes', value: '104857600' }] }],
  });
  const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic }] });
  out.configs = {};
  for (const e of described.resources[0].configEntries) out.configs[e.configName] = e.configValue;

  const producer = kafka.producer();
  await producer.connect();
  const perCodec = Math.ceil(total / codecs.length);
  let sent = 0;
  const before = Date.now();
  for (const [name, type] of codecs) {
    for (let start = 0; start < perCodec && sent < total; start += 500) {
      const messages = [];
      for (let i = start; i < Math.min(start + 500, perCodec) && sent + messages.length < total; i++) {
        messages.push({ key: `key-${i % 97}`, value: value(name, i), headers: { seq: String(i), codec: name } });
      }
      await producer.send({ topic, acks: -1, compression: type, messages });
      sent += messages.length;
    }
  }
  out.sent = sent;
  await producer.disconnect();

  const offsets = await admin.fetchTopicOffsets(topic);
  out.offsets = offsets.map((o) => ({ partition: o.partition, low: o.low, high: o.high }));
  out.byTimestamp = await admin.fetchTopicOffsetsByTimestamp(topic, before);

  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '10' }] });
  out.afterDelete = (await admin.fetchTopicOffsets(topic)).find((o) => o.partition === 0);
  await admin.disconnect();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
