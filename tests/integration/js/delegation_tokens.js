// KIP-48 delegation tokens with @platformatic/kafka, the one installed client
// that has the four token APIs (CreateDelegationToken v3, RenewDelegationToken
// v2, ExpireDelegationToken v2, DescribeDelegationToken v3), and whose
// `sasl.authenticate` hook lets a client send SCRAM's `tokenauth=true`
// extension: its own SCRAM client cannot, so tokenScram below is RFC 5802's
// client with the extension, as Kafka's ScramSaslClient sends it.
//
// Usage: node delegation_tokens.js '<JSON list of steps>'
// Each step: {op, at: "host:port", user, password, mechanism?, ...}; every
// step runs on a new connection authenticated as user/password (SCRAM), or
// with a token ({token: {id, hmac}}). Prints one JSON line: each step's
// result, {error: <Kafka error code>} or the response's fields.
//   create:   owner? {type, name}, renewers? [{type, name}], maxLifetimeMs?
//   renew:    hmac (base64), periodMs
//   expire:   hmac (base64), periodMs
//   describe: owners? [{type, name}] (absent: null, every token)
//   produce:  topic, count: records sent with a Producer (acks -1)
//   metadata: the brokers a Metadata request lists
const crypto = require("node:crypto");
const {
  Connection, Producer, createDelegationTokenV3, renewDelegationTokenV2, expireDelegationTokenV2,
  describeDelegationTokenV3,
} = require("@platformatic/kafka");

const ALGORITHMS = { "SCRAM-SHA-256": ["sha256", 32], "SCRAM-SHA-512": ["sha512", 64] };

// SCRAM (RFC 5802) with Kafka's token extension in client-first.
function tokenScram(mechanism, connection, authenticateAPI, username, password, _token, callback) {
  const [algorithm, keyLength] = ALGORITHMS[mechanism];
  const nonce = crypto.randomBytes(16).toString("base64url");
  const bare = `n=${username.replaceAll("=", "=3D").replaceAll(",", "=2C")},r=${nonce},tokenauth=true`;
  authenticateAPI(connection, Buffer.from(`n,,${bare}`), (error, first) => {
    if (error) return callback(error);
    const serverFirst = first.authBytes.toString();
    const attrs = Object.fromEntries(serverFirst.split(",").map((p) => [p[0], p.slice(2)]));
    if (!attrs.r.startsWith(nonce)) return callback(new Error("server nonce does not extend ours"));
    const salted = crypto.pbkdf2Sync(password, Buffer.from(attrs.s, "base64"), Number(attrs.i), keyLength, algorithm);
    const hmac = (key, data) => crypto.createHmac(algorithm, key).update(data).digest();
    const clientKey = hmac(salted, "Client Key");
    const storedKey = crypto.createHash(algorithm).update(clientKey).digest();
    const withoutProof = `c=${Buffer.from("n,,").toString("base64")},r=${attrs.r}`;
    const authMessage = `${bare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
    const serverSignature = hmac(hmac(salted, "Server Key"), authMessage).toString("base64");
    authenticateAPI(connection, Buffer.from(`${withoutProof},p=${proof.toString("base64")}`), (error, last) => {
      if (error) return callback(error);
      if (last.authBytes.toString() !== `v=${serverSignature}`) return callback(new Error("bad server signature"));
      callback(null, last);
    });
  });
}

function saslOf(step) {
  if (step.plaintext) return undefined;
  const mechanism = step.mechanism || "SCRAM-SHA-512";
  if (step.token) {
    return { mechanism, username: step.token.id, password: step.token.hmac, authenticate: tokenScram };
  }
  return { mechanism, username: step.user, password: step.password };
}

// The Kafka error code of a failed call, or rethrows.
function errorCode(e) {
  for (const inner of [e, ...(e.errors || [])]) {
    if (inner && inner.response && typeof inner.response.errorCode === "number") return inner.response.errorCode;
    if (inner && typeof inner.apiCode === "number") return inner.apiCode;
  }
  return null;
}

const principal = (p) => ({ principalType: p.type, principalName: p.name });

async function onConnection(step, call) {
  const [host, port] = step.at.split(":");
  const sasl = saslOf(step);
  const connection = new Connection("token-test", sasl ? { sasl } : {});
  try {
    await connection.connect(host, Number(port));
  } catch (e) {
    connection.close(() => {});
    return { authFailed: true, message: String(e.cause ? e.cause.message || e.cause : e.message) };
  }
  try {
    return await call(connection);
  } catch (e) {
    const code = errorCode(e);
    if (code === null) throw e;
    return { error: code };
  } finally {
    await new Promise((r) => connection.close(r));
  }
}

// JSON.stringify hands the replacer a Buffer already turned into {type, data}.
const simplify = (v) => {
  if (typeof v === "bigint") return Number(v);
  if (v && v.type === "Buffer" && Array.isArray(v.data)) return Buffer.from(v.data).toString("base64");
  return v;
};

function plain(response) {
  return JSON.parse(JSON.stringify(response, (_, v) => simplify(v)));
}

async function run(step) {
  switch (step.op) {
    case "create":
      return onConnection(step, async (c) => {
        const r = await createDelegationTokenV3.api.async(c, step.owner ? step.owner.type : null,
          step.owner ? step.owner.name : null, (step.renewers || []).map(principal),
          BigInt(step.maxLifetimeMs ?? -1));
        return { error: r.errorCode, ...plain(r) };
      });
    case "renew":
      return onConnection(step, async (c) => {
        const r = await renewDelegationTokenV2.api.async(c, Buffer.from(step.hmac, "base64"), BigInt(step.periodMs));
        return { error: r.errorCode, expiry: Number(r.expiryTimestampMs) };
      });
    case "expire":
      return onConnection(step, async (c) => {
        const r = await expireDelegationTokenV2.api.async(c, Buffer.from(step.hmac, "base64"), BigInt(step.periodMs));
        return { error: r.errorCode, expiry: Number(r.expiryTimestampMs) };
      });
    case "describe":
      return onConnection(step, async (c) => {
        const r = await describeDelegationTokenV3.api.async(c, step.owners ? step.owners.map(principal) : null);
        return { error: r.errorCode, tokens: plain(r.tokens) };
      });
    case "produce": {
      const producer = new Producer({
        clientId: "token-producer", bootstrapBrokers: [step.at], sasl: saslOf(step), acks: -1, retries: 0,
      });
      try {
        const sent = await producer.send({
          messages: Array.from({ length: step.count }, (_, i) => ({
            topic: step.topic, key: Buffer.from(`k${i}`), value: Buffer.from(`token record ${i}`),
          })),
        });
        return { produced: step.count, offsets: plain(sent.offsets || []) };
      } catch (e) {
        return { failed: true, message: String(e.message), code: errorCode(e) };
      } finally {
        await producer.close().catch(() => {});
      }
    }
    default:
      throw new Error(`unknown step ${step.op}`);
  }
}

async function main() {
  const steps = JSON.parse(process.argv[2]);
  const results = [];
  for (const step of steps) results.push(await run(step));
  console.log(JSON.stringify(results));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
