// offline.test.js - transport and subscription logic against fake ZeroMQ peers (no lstd)
import { test } from "node:test";
import assert from "node:assert/strict";
import * as zmq from "zeromq";

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { fakeServer } from "./server.js";
import {
  Client, Subscription, LstdError, RejectedError, TransportError, ArgumentError, RecordedError, expectOk,
  encodeMap, decodeReply, generateKey, fromU128, convertU128, U128_MAX, loadKeyFile,
} from "../src/index.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("loadKeyFile refuses key files others may read and directories others may write", () => {
  const dir = mkdtempSync(join(tmpdir(), "lstd-js-key-"));
  try {
    const key = generateKey(), path = join(dir, "k.key");
    writeFileSync(path, Buffer.from(key.secretKey).toString("hex") + "\n", { mode: 0o600 });
    assert.equal(loadKeyFile(path).address, key.address);
    for (const m of [0o644, 0o640, 0o604, 0o660]) {
      chmodSync(path, m);
      assert.throws(() => loadKeyFile(path), /group or others can read it; run chmod 600/);
    }
    chmodSync(path, 0o600);
    chmodSync(dir, 0o777);
    assert.throws(() => loadKeyFile(path), /writable by others/);
    chmodSync(dir, 0o1777); // sticky: nobody else can replace the file
    assert.equal(loadKeyFile(path).address, key.address);
  } finally {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true });
  }
});
const T = { timeout: 30000 };

test("a request without reply is resent once with the same bytes, then fails TIMEOUT", T, async () => {
  const srv = await fakeServer((req, { seen }) => {
    const copies = seen.filter((s) => s.req.id === req.id).length;
    if (req.op === "health" && copies === 2) return { id: req.id, ok: true, result: { status: "ok" } };
    return undefined;
  });
  const c = await Client.connect({ endpoint: srv.endpoint, timeoutMs: 150 });
  try {
    assert.equal(c.ledgerId, "fake");
    assert.deepEqual(await c.health(), { status: "ok" });
    const copies = srv.seen.filter((s) => s.req.op === "health");
    assert.equal(copies.length, 2);
    assert.deepEqual(copies[0].raw, copies[1].raw, "the resend is byte for byte the same");

    const t0 = Date.now();
    const err = await c.queue().then(() => undefined, (e) => e);
    assert.ok(err instanceof LstdError);
    assert.equal(err.code, "TIMEOUT");
    assert.equal(err.op, "queue");
    assert.ok(Date.now() - t0 >= 280, "two timeouts elapsed");
    await sleep(50);
    assert.equal(srv.seen.filter((s) => s.req.op === "queue").length, 2, "sent twice, no more");
  } finally {
    c.close();
    await srv.close();
  }
});

test("nothing listening: NOT_LISTENING at once, not after the timeout", T, async () => {
  const router = new zmq.Router({ linger: 0 });
  await router.bind("tcp://127.0.0.1:*");
  const endpoint = router.lastEndpoint;
  await router.unbind(endpoint); // a port nobody listens on (close alone may still accept a moment)
  router.close();
  // the timeout is longer than this test may run (T): only the refused connection can end it
  const err = await Client.connect({ endpoint, timeoutMs: 120000 }).then(() => undefined, (e) => e);
  assert.ok(err instanceof TransportError, `got ${err}`);
  assert.equal(err.code, "NOT_LISTENING");
  assert.match(err.message, new RegExp(`nothing listening at ${endpoint.replace(/[.*]/g, "\\$&")}`));
  assert.equal(err.op, "pool");
  assert.equal(err.recorded, false);
  assert.equal(err.request.op, "pool");
});

test("the server goes away: the pending request fails DISCONNECTED, later ones at once", T, async () => {
  const srv = await fakeServer(() => undefined); // answers the pool query only
  const c = await Client.connect({ endpoint: srv.endpoint, timeoutMs: 120000 });
  try {
    const p = c.health();
    await srv.close();
    const err = await p.then(() => undefined, (e) => e);
    assert.ok(err instanceof TransportError, `got ${err}`);
    assert.equal(err.code, "DISCONNECTED");
    assert.equal(err.op, "health");
    const again = await c.queue().then(() => undefined, (e) => e);
    assert.ok(again instanceof TransportError);
    assert.equal(again.code, "DISCONNECTED");
  } finally {
    c.close();
  }
});

test("a per-call timeout is honoured, with its own resends", T, async () => {
  const srv = await fakeServer(() => undefined); // never answers health
  const c = await Client.connect({ endpoint: srv.endpoint, timeoutMs: 120000, retries: 5 });
  try {
    const err = await c.health({ timeoutMs: 100, retries: 0 }).then(() => undefined, (e) => e);
    assert.ok(err instanceof TransportError, `got ${err}`);
    assert.equal(err.code, "TIMEOUT");
    assert.match(err.message, /within 100 ms \(1 sends\)/);
    assert.equal(srv.seen.filter((x) => x.req.op === "health").length, 1, "no resend: retries 0");
    const e2 = await c.query("queue", {}, { timeoutMs: 50, retries: 1 }).then(() => undefined, (e) => e);
    assert.equal(e2.code, "TIMEOUT");
    assert.equal(srv.seen.filter((x) => x.req.op === "queue").length, 2, "one resend");
  } finally {
    c.close();
    await srv.close();
  }
});

test("replies are matched by id in any order; copies and strangers are ignored", T, async () => {
  const held = [];
  const srv = await fakeServer(async (req, { send }) => {
    held.push(req);
    if (held.length < 50) return undefined;
    await send({ id: 999999, ok: true, result: {} }); // nobody asked
    await send({ ok: false, error: "MALFORMED", message: "no id" }); // cannot be matched
    for (const h of held.reverse()) {
      const reply = { id: h.id, ok: true, result: { n: h.n } };
      await send(reply);
      await send(reply); // the answer to a resent copy
    }
    return undefined;
  });
  const c = await Client.connect({ endpoint: srv.endpoint, timeoutMs: 5000 });
  try {
    const ps = [];
    for (let i = 0; i < 50; i++) ps.push(c.query("probe", { n: BigInt(i) }));
    const rs = await Promise.all(ps);
    rs.forEach((r, i) => assert.deepEqual(r, { n: BigInt(i) }));
    assert.equal(c._pending.size, 0);
  } finally {
    c.close();
    await srv.close();
  }
});

test("error replies reject with LstdError carrying the stable name", T, async () => {
  const srv = await fakeServer((req) => ({ id: req.id, ok: false, error: "NOT_FOUND", message: "no such lien" }));
  const c = await Client.connect({ endpoint: srv.endpoint });
  try {
    const err = await c.lien(5).then(() => undefined, (e) => e);
    assert.ok(err instanceof RejectedError);
    assert.ok(err instanceof LstdError);
    assert.ok(err instanceof Error);
    assert.equal(err.code, "NOT_FOUND");
    assert.equal(err.recorded, false);
    assert.equal(err.seq, undefined);
    assert.equal(err.reply.message, "no such lien");
    assert.equal(err.request.op, "lien");
    assert.equal(err.request.lien_id, 5n);
    assert.equal(srv.seen.at(-1).req.lien_id, 5n);
  } finally {
    c.close();
    await srv.close();
  }
  const closed = await c.pool().then(() => undefined, (e) => e);
  assert.ok(closed instanceof TransportError);
  assert.equal(closed.code, "CLOSED");
});

test("pipelined submits wait for one nonce fetch and go out in call order", T, async () => {
  const key = generateKey();
  const srv = await fakeServer((req) => {
    if (req.op === "account") return { id: req.id, ok: true, result: { account: req.account, next_nonce: 41n } };
    return { id: req.id, ok: true, result: { hash: "00".repeat(32), code: "OK", recorded: true, duplicate: false, seq: req.nonce, batch: 1, time: 1, out: { shares_moved: req.shares } } };
  });
  const c = await Client.connect({ endpoint: srv.endpoint });
  try {
    const ps = [];
    for (let i = 0; i < 20; i++) ps.push(c.transfer(key, { to: key.address, shares: i + 1 }));
    const rs = await Promise.all(ps);
    rs.forEach((r, i) => {
      assert.equal(r.nonce, 41n + BigInt(i));
      assert.deepEqual(r.out, { shares_moved: BigInt(i + 1) });
    });
    const ops = srv.seen.map((s) => s.req.op);
    assert.deepEqual(ops.filter((o) => o === "account").length, 1, "one account query");
    const sent = srv.seen.filter((s) => s.req.op === "transfer").map((s) => s.req.nonce);
    assert.deepEqual(sent, rs.map((r) => r.nonce), "on the wire in nonce order");
    for (const s of srv.seen.filter((x) => x.req.op === "transfer")) assert.equal(s.req.ledger, "fake");
  } finally {
    c.close();
    await srv.close();
  }
});

test("one helper per kind: op, fields and conveniences on the wire", T, async () => {
  const key = generateKey(), other = generateKey();
  const srv = await fakeServer((req) => {
    if (req.op === "account") return { id: req.id, ok: true, result: { next_nonce: 1n } };
    return { id: req.id, ok: true, result: { hash: "00".repeat(32), code: "OK", recorded: true, duplicate: false, seq: req.nonce, batch: 1, time: 1, out: {} } };
  });
  const c = await Client.connect({ endpoint: srv.endpoint });
  const ref = "ab".repeat(32);
  const text = Buffer.from("bank-transfer-0001").toString("hex").padEnd(64, "0");
  const calls = [
    ["deposit", { to: other, amount: 10, externalRef: "0x" + ref, minSharesOut: 5 }, { min_shares_out: 5n, external_ref: ref, to: other.address }],
    ["deposit", { to: other.address, amount: 10, external_ref: "bank-transfer-0001" }, { min_shares_out: 0n, external_ref: text }],
    ["deposit", { to: other.address, amount: "18446744073709551615", external_ref: Buffer.from(ref, "hex") }, { amount: (1n << 64n) - 1n, external_ref: ref }],
    ["transfer", { to: other, shares: 1 }, {}],
    ["approve", { spender: other, shares: 1 }, {}],
    ["transferFrom", { owner: other, to: key, shares: 1 }, { owner: other.address, to: key.address }],
    ["lock", { beneficiary: other, shares: 1 }, { expiry: 0n }],
    ["release", { lien_id: 1, shares: 1 }, {}],
    ["seize", { lien_id: 1, shares: 1, to: other }, {}],
    ["withdrawRequest", { shares: 9 }, { min_amount_out: 0n, shares: 9n }],
    ["withdrawCancel", { request_id: 1 }, {}],
    ["withdrawFinalize", { up_to_id: 3 }, { up_to_id: 3n }],
    ["withdrawSettle", { request_id: 1, payout_ref: "eth-payout-0001" }, { payout_ref: Buffer.from("eth-payout-0001").toString("hex").padEnd(64, "0") }],
    ["operatorFund", { operator_id: 1, amount: 1 }, {}],
    ["operatorExit", { operator_id: 1, amount: 1 }, {}],
    ["report", { operator_id: 1, epoch: 2, balance: 3 }, {}],
    ["reportAccept", { operator_id: 1, epoch: 2, balance: 3 }, {}],
    ["operatorRegister", { operator: other, fee_account: other, fee_bps: 100 }, {}],
    ["operatorSetActive", { operator_id: 1, active: true }, { active: 1n }],
    ["operatorSetKeys", { operator_id: 1, operator: other, fee_account: key }, {}],
    ["feeSet", { operator_id: 0, fee_bps: 300 }, {}],
    ["paramSet", { param: "EPOCH_S", value: (1n << 63n) + 1n }, { param: 7n, value: (1n << 63n) + 1n }],
    ["pauseSet", { flags: { transfers: true, withdrawals: true } }, { flags: 6n }],
    ["roleSet", { role: "custodian", account: other }, { role: 2n }],
    ["operatorReset", { operator_id: 1, epoch: 4, balance: 5 }, { epoch: 4n, balance: 5n }],
    ["paramSet", { param: "VEST_S", value: 0 }, { param: 8n, value: 0n }],
    ["oracleAdd", { member: other, quorum: 1 }, { quorum: 1n }],
    ["oracleRemove", { member: other, quorum: 0 }, { quorum: 0n }],
    ["quorumSet", { mode: "committee", quorum: 1 }, { mode: 2n, quorum: 1n, minority: 0n }],
    ["quorumSet", { mode: 1, quorum: 1, minority: true }, { mode: 1n, minority: 1n }],
    ["vote", { operator_id: 1, epoch: 2, balance: 3, performance_bps: 9950 }, { performance_bps: 9950n }],
  ];
  try {
    for (const [method, fields, want] of calls) {
      const r = await c[method](key, fields);
      assert.equal(r.ok, true);
      const sent = srv.seen.at(-1).req;
      assert.equal(sent.op, method.replace(/[A-Z]/g, (ch) => "_" + ch.toLowerCase()));
      assert.equal(sent.signer, key.address);
      assert.equal(sent.nonce, r.nonce);
      for (const [name, v] of Object.entries(want)) assert.equal(sent[name], v, `${method}.${name}`);
    }
    const kinds = new Set(srv.seen.map((x) => x.req.op));
    assert.equal(kinds.size, 27 + 2, "every kind, plus pool and account");
    const arg = (code) => (e) => e instanceof ArgumentError && e.code === code;
    await assert.rejects(c.transfer(key, { to: other, shares: 1, extra: 1 }), arg("UNKNOWN_FIELD"));
    await assert.rejects(c.deposit(key, { to: other, amount: 1, external_ref: "x", externalRef: "x" }), arg("DUPLICATE_FIELD"));
    await assert.rejects(c.transfer(key, { to: other, shares: -1 }), arg("INVALID_NUMBER"));
    await assert.rejects(c.transfer(key, { to: other, shares: 1n << 64n }), arg("U64_OVERFLOW"));
    await assert.rejects(c.deposit(key, { to: other, amount: 1, external_ref: ref }), arg("INVALID_REF"));
    await assert.rejects(c.deposit(key, { to: other, amount: 1, external_ref: "x".repeat(33) }), arg("INVALID_REF"));
    await assert.rejects(c.transfer({ nope: 1 }, { to: other, shares: 1 }), arg("INVALID_KEY"));
  } finally {
    c.close();
    await srv.close();
  }
});

// ---- subscriptions ------------------------------------------------------------------------

function record(seq, kind = "transfer", to = "11".repeat(32)) {
  return { seq: BigInt(seq), batch: 1n, time: 1n, hash: seq.toString(16).padStart(64, "0"), kind, signer: "22".repeat(32), nonce: 1n, fields: { to, shares: 1n }, code: "OK", ok: true, out: {} };
}

/** A fake client for Subscription: a record store behind `events`/`history`, a real PUB. */
async function fakeFeed() {
  const pub = new zmq.Publisher({ linger: 0 });
  await pub.bind("tcp://127.0.0.1:*");
  const store = [];
  const calls = [];
  const page = (recs, after, limit) => {
    const rs = recs.filter((r) => r.seq > after).slice(0, Number(limit));
    const more = recs.filter((r) => r.seq > after).length > rs.length;
    return { records: rs.map((r) => decodeReply(encodeMap(r))), next: more ? rs.at(-1).seq : null };
  };
  const client = {
    eventsEndpoint: pub.lastEndpoint,
    _subs: new Set(),
    async pool() {
      return { seq: BigInt(store.length) };
    },
    async events({ after, limit }) {
      calls.push(["events", after]);
      return page(store, after, limit);
    },
    async history(account, { after, limit }) {
      calls.push(["history", after]);
      return page(store.filter((r) => r.signer === account || r.fields.to === account), after, limit);
    },
  };
  return {
    client,
    store,
    calls,
    publish: (topic, rec) => pub.send([topic, encodeMap(rec)]),
    close: () => pub.close(),
  };
}

/** Publish `rec` until the pending next() resolves (a SUB joins a little late). */
async function publishUntil(feed, topic, rec, pending) {
  let done = false;
  const p = pending.then((v) => {
    done = true;
    return v;
  });
  for (let i = 0; i < 500 && !done; i++) {
    await feed.publish(topic, rec);
    await sleep(10);
  }
  return p;
}

test("subscription: catch-up at start, live records, gaps filled from the events query", T, async () => {
  const feed = await fakeFeed();
  feed.store.push(record(1), record(2));
  const sub = new Subscription(feed.client, { after: 0n, pollMs: 0 });
  try {
    assert.equal((await sub.next()).value.seq, 1n);
    assert.equal((await sub.next()).value.seq, 2n);
    // live: 3 arrives published only (not in the store)
    const v3 = await publishUntil(feed, "tx/transfer/", record(3), sub.next());
    assert.equal(v3.value.seq, 3n);
    // a gap: 4 and 5 were missed; 6 arrives: 4, 5 come from the query, then 6
    feed.store.push(record(3), record(4), record(5), record(6));
    const calls = feed.calls.length;
    await feed.publish("tx/transfer/", record(6));
    assert.deepEqual([(await sub.next()).value.seq, (await sub.next()).value.seq, (await sub.next()).value.seq], [4n, 5n, 6n]);
    assert.deepEqual(feed.calls.slice(calls)[0], ["events", 3n]);
    // a record ahead of what the query shows is never skipped over
    await feed.publish("tx/transfer/", record(8));
    await sleep(50);
    feed.store.push(record(7), record(8), record(9));
    await feed.publish("tx/transfer/", record(9));
    assert.deepEqual([(await sub.next()).value.seq, (await sub.next()).value.seq, (await sub.next()).value.seq], [7n, 8n, 9n]);
    // copies of old records are dropped
    await feed.publish("tx/transfer/", record(5));
    feed.store.push(record(10));
    await feed.publish("tx/transfer/", record(10));
    assert.equal((await sub.next()).value.seq, 10n);
    assert.equal(sub.cursor, 10n);
  } finally {
    sub.close();
    feed.close();
  }
  assert.deepEqual(await sub.next(), { value: undefined, done: true });
});

test("subscription: kind filter, idle polling, account stream through history", T, async () => {
  const feed = await fakeFeed();
  for (let i = 1; i <= 1500; i++) feed.store.push(record(i, i % 500 === 0 ? "approve" : "transfer"));
  const sub = new Subscription(feed.client, { after: 0, kind: "approve", pollMs: 30 });
  const acct = "33".repeat(32);
  const subA = new Subscription(feed.client, { after: 0, account: acct, pollMs: 0 });
  try {
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await sub.next()).value.seq);
    assert.deepEqual(got, [500n, 1000n, 1500n]);
    assert.ok(feed.calls.filter((c) => c[0] === "events").length >= 2, "paged through 1000 at a time");
    // nothing published: the idle poll finds the new record
    feed.store.push(record(1501, "transfer"), record(1502, "approve"));
    assert.equal((await sub.next()).value.seq, 1502n);

    // account stream: seqs of one account are not consecutive; history fills in
    feed.store.push(record(1503, "transfer", acct), record(1504));
    assert.equal((await subA.next()).value.seq, 1503n);
    feed.store.push(record(1505, "transfer", acct));
    const v = await publishUntil(feed, `acct/${acct}/`, record(1505, "transfer", acct), subA.next());
    assert.equal(v.value.seq, 1505n);
    assert.ok(feed.calls.some((c) => c[0] === "history" && c[1] === 1503n));
  } finally {
    sub.close();
    subA.close();
    feed.close();
  }
});

test("128-bit totals: decimal strings become bigint in pool, operator and queue results", T, async () => {
  const big = "340282366920938463463374607431768211455";
  const srv = await fakeServer((req) => {
    if (req.op === "queue") return { id: req.id, ok: true, result: { pending_amount: "18446744073709551616", payable: "0", buffer: 5 } };
    if (req.op === "operator") return { id: req.id, ok: true, result: { funded_since: big, exited_since: "7", fees_earned: "0", balance: 3 } };
    if (req.op === "health") return { id: req.id, ok: true, result: { status: "ok", payable: "12" } };
    if (req.op === "lien") return { id: req.id, ok: true, result: { value: 1 } };
    if (req.op === "withdrawal") return { id: req.id, ok: true, result: { funded_since: "x1" } };
    return { id: req.id, ok: false, error: "UNKNOWN_OP", message: "?" };
  });
  const c = await Client.connect({ endpoint: srv.endpoint });
  try {
    const q = await c.queue();
    assert.equal(q.pending_amount, 1n << 64n);
    assert.equal(q.payable, 0n);
    assert.equal(q.buffer, 5n);
    const o = await c.operator(1);
    assert.equal(o.funded_since, U128_MAX);
    assert.equal(o.exited_since, 7n);
    assert.equal(o.fees_earned, 0n);
    assert.equal((await c.health()).payable, "12", "other queries are left alone");
    assert.equal((await c.withdrawal(1)).funded_since, "x1", "only the listed fields of the listed queries");
  } finally {
    c.close();
    await srv.close();
  }
  assert.equal(fromU128("0"), 0n);
  assert.equal(fromU128(big), U128_MAX);
  assert.throws(() => fromU128("340282366920938463463374607431768211456"), ArgumentError);
  assert.throws(() => fromU128("-1"), ArgumentError);
  assert.throws(() => fromU128("1e3"), ArgumentError);
  assert.throws(() => fromU128(5), ArgumentError);
  assert.deepEqual(convertU128("pool", { payable: "3", total_paid: "4", rate: "1.0" }), { payable: 3n, total_paid: 4n, rate: "1.0" });
});

test("a 128-bit total that is not a decimal is PROTOCOL", T, async () => {
  const srv = await fakeServer((req) => ({ id: req.id, ok: true, result: { pending_amount: "12a", payable: "0" } }));
  const c = await Client.connect({ endpoint: srv.endpoint });
  try {
    const err = await c.queue().then(() => undefined, (e) => e);
    assert.ok(err instanceof TransportError);
    assert.equal(err.code, "PROTOCOL");
    assert.equal(err.op, "queue");
  } finally {
    c.close();
    await srv.close();
  }
});

// ---- BUSY: the tail behind a refused transaction is resent in order ------------------------

/** A fake ledger for one signer: applies nonce `next` only, answers BUSY where told to. */
function fakeLedger({ busy }) {
  let next = 1n;
  const applied = new Map(); // nonce -> seq
  const wire = []; // nonces in the order they arrived
  const handle = (req) => {
    if (req.op === "account") return { id: req.id, ok: true, result: { next_nonce: next } };
    wire.push(req.nonce);
    if (busy(req.nonce, wire)) return { id: req.id, ok: false, error: "BUSY", message: "server queue is full; retry later" };
    const rec = (seq, duplicate) => ({ id: req.id, ok: true, result: { hash: "00".repeat(32), code: "OK", recorded: true, duplicate, seq, batch: seq, time: 1n, out: { shares_moved: req.shares } } });
    if (applied.has(req.nonce)) return rec(applied.get(req.nonce), true);
    if (req.nonce > next) return { id: req.id, ok: false, error: "NONCE_GAP", message: "nonce is ahead of the signer's next nonce" };
    applied.set(req.nonce, BigInt(applied.size + 1));
    next++;
    return rec(applied.get(req.nonce), false);
  };
  return { handle, applied, wire };
}

test("BUSY in a pipeline: the refused transaction and its tail are resent in nonce order", T, async () => {
  const key = generateKey();
  let busy5 = 2, busy12 = 1; // 5 is refused twice, 12 once
  const L = fakeLedger({ busy: (n) => (n === 5n && busy5-- > 0) || (n === 12n && busy12-- > 0) });
  const srv = await fakeServer((req) => L.handle(req));
  const c = await Client.connect({ endpoint: srv.endpoint });
  try {
    const ps = [];
    for (let i = 0; i < 30; i++) ps.push(c.transfer(key, { to: key.address, shares: i + 1 }));
    const rs = await Promise.all(ps);
    rs.forEach((r, i) => {
      assert.equal(r.ok, true);
      assert.equal(r.nonce, BigInt(i + 1));
      assert.deepEqual(r.out, { shares_moved: BigInt(i + 1) });
    });
    assert.equal(L.applied.size, 30, "each applied exactly once");
    assert.deepEqual([...L.applied.keys()], rs.map((r) => r.nonce), "applied in nonce order");
    // on the wire: all 30 once; then the refused 5 alone until it is recorded (two BUSY, so
    // twice more), then its tail in nonce order up to 12, refused too: alone, then the rest
    const nonces = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => BigInt(a + i));
    assert.deepEqual(L.wire.slice(0, 30), nonces(1, 30));
    assert.deepEqual(L.wire.slice(30), [5n, 5n, ...nonces(6, 30)]);
  } finally {
    c.close();
    await srv.close();
  }
});

test("BUSY that persists gives up after busyRetries with RejectedError BUSY; a genuine gap fails at once", T, async () => {
  const key = generateKey();
  const L = fakeLedger({ busy: (n) => n === 1n });
  const srv = await fakeServer((req) => L.handle(req));
  const c = await Client.connect({ endpoint: srv.endpoint, busyRetries: 3 });
  try {
    const err = await c.transfer(key, { to: key.address, shares: 1 }).then(() => undefined, (e) => e);
    assert.ok(err instanceof RejectedError, `got ${err}`);
    assert.equal(err.code, "BUSY");
    assert.equal(err.recorded, false);
    assert.equal(L.wire.filter((n) => n === 1n).length, 4, "one send and three resends");
    const gap = await c.transfer(key, { to: key.address, shares: 1 }, { nonce: 9 }).then(() => undefined, (e) => e);
    assert.ok(gap instanceof RejectedError);
    assert.equal(gap.code, "NONCE_GAP");
    assert.equal(L.wire.filter((n) => n === 9n).length, 1, "nothing before it to wait for: not resent");
  } finally {
    c.close();
    await srv.close();
  }
});

test("submitOrThrow and expectOk turn a recorded rule violation into RecordedError", T, async () => {
  const key = generateKey();
  const srv = await fakeServer((req) => {
    if (req.op === "account") return { id: req.id, ok: true, result: { next_nonce: 1n } };
    return { id: req.id, ok: false, error: "INSUFFICIENT_SHARES", message: "free share balance too low", result: { hash: "11".repeat(32), code: "INSUFFICIENT_SHARES", recorded: true, duplicate: false, seq: 77n, batch: 3n, time: 1n, out: {} } };
  });
  const c = await Client.connect({ endpoint: srv.endpoint });
  try {
    const r = await c.transfer(key, { to: key.address, shares: 1 });
    assert.equal(r.ok, false);
    assert.equal(r.kind, "transfer");
    assert.equal(r.error, "INSUFFICIENT_SHARES");
    const err = await c.submitOrThrow(key, "transfer", { to: key.address, shares: 1 }).then(() => undefined, (e) => e);
    assert.ok(err instanceof RecordedError, `got ${err}`);
    assert.ok(err instanceof LstdError);
    assert.equal(err.code, "INSUFFICIENT_SHARES");
    assert.equal(err.recorded, true);
    assert.equal(err.seq, 77n);
    assert.equal(err.hash, "11".repeat(32));
    assert.equal(err.request.op, "transfer");
    assert.equal(err.request.nonce, 2n);
    assert.equal(err.result.seq, 77n);
    assert.throws(() => expectOk(r), (e) => e instanceof RecordedError && e.seq === 77n);
    assert.throws(() => expectOk({}), ArgumentError);
  } finally {
    c.close();
    await srv.close();
  }
});
