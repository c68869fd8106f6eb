// failover.test.js - endpoint lists: NOT_LEADER, moving on, NO_QUORUM (fake replicas, no lstd)
import { test } from "node:test";
import assert from "node:assert/strict";
import * as zmq from "zeromq";

import { fakeServer } from "./server.js";
import { Client, RejectedError, TransportError, ArgumentError, generateKey } from "../src/index.js";

const T = { timeout: 30000 };
const LONG = 120000; // beyond this test's run: only a refusal, an answer or silence ends a wait

/** The state replicas share: one signer's next nonce (applied nonces in order). */
function book() {
  return { next: 1n, applied: [] };
}

/**
 * A fake replica. role "leader": transactions go by the nonce rules against the book (the
 * first busy answered BUSY, the next noQuorum NO_QUORUM); "follower": NOT_LEADER naming
 * `leader` (null: nil); "silent": no answer. Queries (account) are answered by every role.
 */
async function replica(role, b, { leader = null, busy = 0, noQuorum = 0 } = {}) {
  let n = 0;
  const txs = [];
  const srv = await fakeServer((req) => {
    if (req.op === "account") return { id: req.id, ok: true, result: { next_nonce: b.next } };
    txs.push(req);
    const i = n++;
    if (role === "silent") return undefined;
    if (role === "follower") return { id: req.id, ok: false, error: "NOT_LEADER", code: 23n, message: "this replica is a follower", leader };
    if (i < busy) return { id: req.id, ok: false, error: "BUSY", message: "server queue is full" };
    if (i < busy + noQuorum) return { id: req.id, ok: false, error: "NO_QUORUM", message: "replication has no quorum" };
    if (req.nonce > b.next) return { id: req.id, ok: false, error: "NONCE_GAP", message: "nonce is ahead" };
    const duplicate = req.nonce < b.next;
    if (!duplicate) {
      b.applied.push(req.nonce);
      b.next++;
    }
    return { id: req.id, ok: true, result: { hash: "00".repeat(32), code: "OK", recorded: true, duplicate, seq: req.nonce, batch: 1n, time: 1n, out: { shares_moved: req.shares } } };
  });
  return Object.assign(srv, { txs, rawTxs: () => srv.seen.filter((s) => s.req.op === "transfer").map((s) => s.raw) });
}

async function nowhere() {
  const router = new zmq.Router({ linger: 0 });
  await router.bind("tcp://127.0.0.1:*");
  const endpoint = router.lastEndpoint;
  await router.unbind(endpoint); // a port nobody listens on
  router.close();
  return endpoint;
}

async function closeAll(c, ...servers) {
  c?.close();
  for (const s of servers) await s.close();
}

test("endpoint lists: a string with commas or an array, 1 to 8 entries, no empty one", () => {
  const c = new Client({ endpoint: "tcp://127.0.0.1:7450,tcp://127.0.0.1:7460", events: "tcp://127.0.0.1:7451,tcp://127.0.0.1:7461" });
  try {
    assert.deepEqual(c.endpoints, ["tcp://127.0.0.1:7450", "tcp://127.0.0.1:7460"]);
    assert.equal(c.endpoint, "tcp://127.0.0.1:7450");
    assert.equal(c.eventsEndpoint, "tcp://127.0.0.1:7451", "the SUB connects to the first only");
    assert.equal(c.switches, 0);
  } finally {
    c.close();
  }
  const d = new Client({ endpoints: ["tcp://127.0.0.1:7470"] });
  assert.equal(d.endpoint, "tcp://127.0.0.1:7470");
  d.close();
  const nine = Array.from({ length: 9 }, (_, i) => `tcp://127.0.0.1:${7450 + i}`);
  for (const bad of [{ endpoint: "tcp://127.0.0.1:7450," }, { endpoint: "" }, { endpoints: [] }, { endpoints: nine }, { endpoint: "tcp://a:1, tcp://b:2" }])
    assert.throws(() => new Client(bad), ArgumentError, JSON.stringify(bad));
});

test("(a) NOT_LEADER naming a listed replica: the same bytes go there, once each", T, async () => {
  const b0 = book(), key = generateKey();
  const B = await replica("leader", b0), A = await replica("follower", b0, { leader: B.endpoint });
  const D = await replica("leader", b0);
  let c;
  try {
    c = await Client.connect({ endpoint: `${A.endpoint},${B.endpoint}`, timeoutMs: LONG });
    const r = await c.transfer(key, { to: key.address, shares: 1 });
    assert.equal(r.ok, true);
    assert.equal(r.nonce, 1n);
    assert.equal(c.endpoint, B.endpoint);
    assert.equal(c.switches, 1);
    assert.equal(c.leader, B.endpoint);
    assert.equal(A.txs.length, 1);
    assert.equal(B.txs.length, 1);
    assert.deepEqual(A.rawTxs()[0], B.rawTxs()[0], "byte for byte the same");
    c.close();
    // A, D, B with A naming B: straight to B, past D
    c = await Client.connect({ endpoints: [A.endpoint, D.endpoint, B.endpoint], timeoutMs: LONG });
    const q = await c.transfer(key, { to: key.address, shares: 2 });
    assert.equal(q.ok, true);
    assert.equal(c.endpoint, B.endpoint);
    assert.equal(D.txs.length, 0);
  } finally {
    await closeAll(c, A, B, D);
  }
});

test("(b) NOT_LEADER without a leader (nil): the next entry", T, async () => {
  const b0 = book(), key = generateKey();
  const A = await replica("follower", b0), B = await replica("leader", b0);
  let c;
  try {
    c = await Client.connect({ endpoints: [A.endpoint, B.endpoint], timeoutMs: LONG });
    const r = await c.transfer(key, { to: key.address, shares: 1 });
    assert.equal(r.ok, true);
    assert.equal(c.endpoint, B.endpoint);
    assert.equal(c.leader, null);
    assert.equal(A.txs.length + B.txs.length, 2);
  } finally {
    await closeAll(c, A, B);
  }
});

test("(c) a leader hint outside the list is never followed: the next entry instead", T, async () => {
  const b0 = book(), key = generateKey();
  const S = await replica("leader", b0);
  const A = await replica("follower", b0, { leader: S.endpoint }), B = await replica("leader", b0);
  let c;
  try {
    c = await Client.connect({ endpoints: [A.endpoint, B.endpoint], timeoutMs: LONG });
    const r = await c.transfer(key, { to: key.address, shares: 1 });
    assert.equal(r.ok, true);
    assert.equal(c.endpoint, B.endpoint);
    assert.equal(c.leader, S.endpoint, "seen, not followed");
    assert.equal(S.seen.length, 0);
    assert.equal(S.accepted, 0, "the hinted server never saw a connection");
  } finally {
    await closeAll(c, A, B, S);
  }
});

test("(d) every entry NOT_LEADER: RejectedError NOT_LEADER with .leader after 2 x n moves", T, async () => {
  const b0 = book(), key = generateKey();
  const B = await replica("follower", b0), A = await replica("follower", b0, { leader: B.endpoint });
  let c;
  try {
    c = await Client.connect({ endpoints: [A.endpoint, B.endpoint], timeoutMs: LONG });
    const err = await c.transfer(key, { to: key.address, shares: 1 }).then(() => undefined, (e) => e);
    assert.ok(err instanceof RejectedError, `got ${err}`);
    assert.equal(err.code, "NOT_LEADER");
    assert.equal(err.recorded, false);
    assert.equal(err.leader, B.endpoint, "A, the last asked, named B");
    assert.equal(c.switches, 4);
    assert.equal(A.txs.length + B.txs.length, 5, "A B A B A");
  } finally {
    await closeAll(c, A, B);
  }
});

test("(e) the first entry not listening, or silent: the next one answers", T, async () => {
  const b0 = book(), key = generateKey();
  const B = await replica("leader", b0), S = await replica("silent", b0);
  let c;
  try {
    c = await Client.connect({ endpoints: [await nowhere(), B.endpoint], timeoutMs: LONG });
    assert.equal(c.endpoint, B.endpoint, "the pool query moved already");
    const r = await c.transfer(key, { to: key.address, shares: 1 });
    assert.equal(r.ok, true);
    assert.equal(c.switches, 1);
    c.close();
    // connected but silent to transactions (it answers the account query): the timeout moves on
    c = new Client({ endpoints: [S.endpoint, B.endpoint], timeoutMs: 300 });
    c.ledgerId = "fake";
    const q = await c.transfer(key, { to: key.address, shares: 1 });
    assert.equal(q.ok, true);
    assert.equal(S.txs.length, 1);
    assert.equal(c.endpoint, B.endpoint);
    c.close();
    // one entry, nothing listening: NOT_LISTENING at once, as without a list
    const err = await Client.connect({ endpoint: await nowhere(), timeoutMs: LONG }).then(() => undefined, (e) => e);
    assert.ok(err instanceof TransportError);
    assert.equal(err.code, "NOT_LISTENING");
  } finally {
    await closeAll(c, B, S);
  }
});

test("(f) a pipelined window: the unanswered tail goes to the new leader in order", T, async () => {
  const b0 = book(), key = generateKey();
  const B = await replica("leader", b0, { busy: 1 });
  const A = await replica("follower", b0, { leader: B.endpoint });
  let c;
  try {
    c = await Client.connect({ endpoints: [A.endpoint, B.endpoint], timeoutMs: LONG });
    const ps = [];
    for (let i = 0; i < 6; i++) ps.push(c.transfer(key, { to: key.address, shares: i + 1 }));
    const rs = await Promise.all(ps);
    rs.forEach((r, i) => {
      assert.equal(r.ok, true);
      assert.equal(r.nonce, BigInt(i + 1));
    });
    assert.deepEqual(b0.applied, [1n, 2n, 3n, 4n, 5n, 6n], "each applied once, in order");
    assert.deepEqual(B.txs.slice(0, 6).map((t) => t.nonce), [1n, 2n, 3n, 4n, 5n, 6n], "the tail, in order");
    assert.equal(c.switches, 1);
  } finally {
    await closeAll(c, A, B);
  }
});

test("(g) NO_QUORUM twice, then applied: at the same endpoint, no move", T, async () => {
  const b0 = book(), key = generateKey();
  const A = await replica("leader", b0, { noQuorum: 2 }), B = await replica("leader", b0);
  let c;
  try {
    c = await Client.connect({ endpoints: [A.endpoint, B.endpoint], timeoutMs: LONG });
    const r = await c.transfer(key, { to: key.address, shares: 1 });
    assert.equal(r.ok, true);
    assert.equal(A.txs.length, 3);
    assert.equal(B.txs.length, 0);
    assert.equal(c.switches, 0);
    c.close();
    const N = await replica("leader", b0, { noQuorum: 100 });
    c = await Client.connect({ endpoint: N.endpoint, busyRetries: 2 });
    const err = await c.transfer(key, { to: key.address, shares: 1 }).then(() => undefined, (e) => e);
    assert.ok(err instanceof RejectedError);
    assert.equal(err.code, "NO_QUORUM");
    assert.equal(N.txs.length, 3);
    await N.close();
  } finally {
    await closeAll(c, A, B);
  }
});
