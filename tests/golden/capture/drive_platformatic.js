// Drives @platformatic/kafka (a pure-JavaScript client for Kafka 3.5-4.1 that
// only speaks flexible, recent request versions) against the fake broker: a
// producer per compression type it has on this Node.js (zstd needs Node 22's
// zlib), idempotent and transactional producers, a group consumer, the admin
// client.
//
//   NODE_PATH=tests/integration/node_modules node drive_platformatic.js BOOTSTRAP
'use strict'

const { Admin, Consumer, Producer, stringSerializers, stringDeserializers } = require('@platformatic/kafka')
const zlib = require('node:zlib')

const BOOTSTRAP = process.argv[2]
const CLIENT = 'platformatic-kafka'
const TOPIC = 'golden-platformatic'
const GROUP = 'golden-platformatic-group'
const RECORDS = 20
const FILLER = 'the quick brown fox jumps over the lazy dog '.repeat(4)
const base = { clientId: 'platformatic-kafka-1.35.0', bootstrapBrokers: [BOOTSTRAP], retries: 2 }

const pad = (i) => String(i).padStart(3, '0')
const messages = (codec) => Array.from({ length: RECORDS }, (_, i) => ({
  topic: TOPIC,
  partition: 0,
  key: `key-${pad(i)}`,
  value: `${CLIENT} ${codec} record ${pad(i)}: ${FILLER}`.slice(0, 100),
  headers: new Map([['trace-id', pad(i)], ['source', CLIENT]]),
}))

async function produce () {
  const codecs = ['none', 'gzip', 'snappy', 'lz4']
  if (zlib.zstdCompressSync) codecs.push('zstd')
  else console.error('platformatic-kafka: skipping zstd: this Node.js has no zlib zstd')
  for (const codec of codecs) {
    const p = new Producer({ ...base, serializers: stringSerializers, compression: codec === 'none' ? undefined : codec, autocreateTopics: true })
    try {
      await p.send({ messages: messages(codec), acks: 1 })
    } catch (e) {
      console.error(`platformatic-kafka: ${codec} failed: ${e.message}`)
    }
    await p.close()
  }
  const idem = new Producer({ ...base, serializers: stringSerializers, idempotent: true })
  await idem.send({ messages: messages('none'), acks: -1 })
  await idem.close()

  const txp = new Producer({ ...base, serializers: stringSerializers, idempotent: true, transactionalId: 'golden-platformatic-txn' })
  const txn = await txp.beginTransaction()
  await txn.send({ messages: messages('none'), acks: -1 })
  await txn.commit()
  await txp.close()
}

// groupProtocol 'consumer' is the KIP-848 protocol (ConsumerGroupHeartbeat).
async function consume (groupProtocol = 'classic') {
  const groupId = groupProtocol === 'classic' ? GROUP : GROUP + '-kip848'
  const c = new Consumer({ ...base, groupId, groupProtocol, deserializers: stringDeserializers, maxWaitTime: 200 })
  const stream = await c.consume({ topics: [TOPIC], mode: 'committed', fallbackMode: 'earliest', autocommit: false, maxWaitTime: 200 })
  let got = 0
  for await (const message of stream) {
    got += 1
    if (got === RECORDS) {
      await message.commit()
      break
    }
  }
  await stream.close()
  await c.close()
}

async function admin () {
  const a = new Admin(base)
  const name = TOPIC + '-admin'
  await a.createTopics({ topics: [name], partitions: 3, replicas: 1, configs: [{ name: 'retention.ms', value: '3600000' }] })
  await a.createPartitions({ topics: [{ name, count: 4, assignments: [] }] })
  await a.metadata({ topics: [TOPIC] })
  await a.listTopics()
  await a.listOffsets({ topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, timestamp: -1n }] }] })
  await a.describeConfigs({ resources: [{ resourceType: 2, resourceName: name, configurationKeys: null }], includeSynonyms: true })
  await a.alterConfigs({ resources: [{ resourceType: 2, resourceName: name, configs: [{ name: 'retention.ms', value: '7200000' }] }] })
  await a.incrementalAlterConfigs({ resources: [{ resourceType: 2, resourceName: name, configs: [{ name: 'retention.ms', configOperation: 0, value: '7300000' }] }] })
  await a.listGroups()
  await a.describeGroups({ groups: [GROUP] })
  await a.listConsumerGroupOffsets({ groups: [GROUP] })
  await a.alterConsumerGroupOffsets({ groupId: GROUP, topics: [{ name: TOPIC, partitionOffsets: [{ partition: 0, offset: 5n }] }] })
  await a.deleteRecords({ topics: [{ name: TOPIC, partitions: [{ partition: 0, offset: 1n }] }] })
  const acl = { resourceType: 2, resourceName: name, resourcePatternType: 3, principal: 'User:golden', host: '*', operation: 3, permissionType: 3 }
  await a.createAcls({ creations: [acl] })
  await a.describeAcls({ filter: acl })
  await a.deleteAcls({ filters: [acl] })
  await a.deleteGroups({ groups: [GROUP] })
  await a.deleteTopics({ topics: [name] })
  await a.close()
}

async function step (name, fn) {
  try {
    await fn()
  } catch (e) {
    console.error(`platformatic-kafka: ${name} failed:`, e)
    process.exitCode = 1
  }
}

async function main () {
  await step('produce', produce)
  await step('consume', consume)
  await step('consume (KIP-848)', () => consume('consumer'))
  await step('admin', admin)
  console.log('platformatic-kafka: done')
}

main()
