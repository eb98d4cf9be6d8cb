// Drives KafkaJS against the fake broker: a producer per compression type
// (snappy, lz4 and zstd through codec packages, each skipped when its package
// is missing), an idempotent and a transactional producer, a group consumer,
// and the admin client.
//
//   NODE_PATH=tests/integration/node_modules node drive_kafkajs.js BOOTSTRAP
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')

const BOOTSTRAP = process.argv[2]
const CLIENT = 'kafkajs'
const TOPIC = 'golden-kafkajs'
const GROUP = 'golden-kafkajs-group'
const RECORDS = 20
const FILLER = 'the quick brown fox jumps over the lazy dog '.repeat(4)

const pad = (i) => String(i).padStart(3, '0')
const messages = (codec) => Array.from({ length: RECORDS }, (_, i) => ({
  key: `key-${pad(i)}`,
  value: `${CLIENT} ${codec} record ${pad(i)}: ${FILLER}`.slice(0, 100),
  headers: { 'trace-id': pad(i), source: CLIENT },
  partition: 0,
}))

const codecs = [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP]]
function optionalCodec (name, type, load) {
  try {
    CompressionCodecs[type] = load()
    codecs.push([name, type])
  } catch (e) {
    console.error(`kafkajs: skipping ${name}: ${e.message}`)
  }
}
optionalCodec('snappy', CompressionTypes.Snappy, () => require('kafkajs-snappy'))
optionalCodec('lz4', CompressionTypes.LZ4, () => new (require('kafkajs-lz4'))().codec)
// @kafkajs/zstd needs a native build; the same five lines over a prebuilt zstd binding.
optionalCodec('zstd', CompressionTypes.ZSTD, () => {
  const zstd = require('@mongodb-js/zstd')
  return () => ({
    compress: async (encoder) => zstd.compress(encoder.buffer, 3),
    decompress: async (buffer) => zstd.decompress(buffer),
  })
})

const kafka = new Kafka({
  clientId: 'kafkajs-2.2.4',
  brokers: [BOOTSTRAP],
  logLevel: logLevel.WARN,
  retry: { retries: 2 },
})

async function produce () {
  for (const [name, type] of codecs) {
    const p = kafka.producer({ allowAutoTopicCreation: true })
    await p.connect()
    await p.send({ topic: TOPIC, compression: type, messages: messages(name) })
    await p.disconnect()
  }
  const idem = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await idem.connect()
  await idem.send({ topic: TOPIC, acks: -1, messages: messages('none') })
  await idem.disconnect()

  const txp = kafka.producer({ transactionalId: 'golden-kafkajs-txn', idempotent: true, maxInFlightRequests: 1 })
  await txp.connect()
  const txn = await txp.transaction()
  await txn.send({ topic: TOPIC, messages: messages('none') })
  await txn.sendOffsets({ consumerGroupId: GROUP + '-txn', topics: [{ topic: TOPIC, partitions: [{ partition: 0, offset: '20' }] }] })
  await txn.commit()
  await txp.disconnect()
}

async function consume () {
  const c = kafka.consumer({ groupId: GROUP, maxWaitTimeInMs: 200 })
  await c.connect()
  await c.subscribe({ topics: [TOPIC], fromBeginning: true })
  let got = 0
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed only ${got}`)), 30000)
    c.run({
      eachMessage: async () => {
        got += 1
        if (got === RECORDS) { clearTimeout(timer); resolve() }
      },
    }).catch(reject)
  })
  await c.commitOffsets([{ topic: TOPIC, partition: 0, offset: String(RECORDS) }])
  await c.disconnect()
}

async function admin () {
  const a = kafka.admin()
  await a.connect()
  const name = TOPIC + '-admin'
  await a.createTopics({ topics: [{ topic: name, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] })
  await a.createPartitions({ topicPartitions: [{ topic: name, count: 4 }] })
  await a.fetchTopicMetadata({ topics: [TOPIC] })
  await a.listTopics()
  await a.describeCluster()
  await a.fetchTopicOffsets(TOPIC)
  await a.fetchTopicOffsetsByTimestamp(TOPIC, Date.now() - 60000)
  await a.describeConfigs({ includeSynonyms: true, resources: [{ type: 2, name }, { type: 4, name: '1' }] })
  await a.alterConfigs({ validateOnly: false, resources: [{ type: 2, name, configEntries: [{ name: 'retention.ms', value: '7200000' }] }] })
  await a.listGroups()
  await a.describeGroups([GROUP])
  await a.fetchOffsets({ groupId: GROUP, topics: [TOPIC] })
  await a.setOffsets({ groupId: GROUP, topic: TOPIC, partitions: [{ partition: 0, offset: '5' }] })
  await a.deleteTopicRecords({ topic: TOPIC, partitions: [{ partition: 0, offset: '1' }] })
  const acl = { resourceType: 2, resourceName: name, resourcePatternType: 3, principal: 'User:golden', host: '*', operation: 3, permissionType: 3 }
  await a.createAcls({ acl: [acl] })
  await a.describeAcls(acl)
  await a.deleteAcls({ filters: [acl] })
  await a.deleteGroups([GROUP])
  await a.deleteTopics({ topics: [name] })
  await a.disconnect()
}

async function main () {
  await produce()
  await consume()
  await admin()
  console.log('kafkajs: done with codecs ' + codecs.map((c) => c[0]).join(', '))
}

main().catch((e) => { console.error('kafkajs driver failed:', e); process.exit(1) })
