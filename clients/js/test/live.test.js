// live.test.js - the client against a real lstd (LSTD_BINARY, default ../../build/lstd)
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";

import {
  Client, LstdError, RecordedError, RejectedError, ArgumentError, generateKey, loadKeyFile, signTx, toHex,
  parseUnits, formatUnits,
} from "../src/index.js";

import { startServer, rejects } from "./server.js";

const E18 = 10n ** 18n;
const VEST_S = 86400n; // the default: a reward vests into the rate over a day

/** A/S as the server prints it: 18 fractional digits, rounded down. */
function rateString(a, s) {
  if (s === 0n) return null;
  const q = (a * E18) / s;
  return `${q / E18}.${(q % E18).toString().padStart(18, "0")}`;
}

/** A 32-byte ref as 0x and 64 hex digits (PROTOCOL.md, References). */
function ref(n) {
  return "0x" + n.toString(16).padStart(64, "0");
}

const T = { timeout: 60000 }; // per test: a hang fails here, not at the suite timeout
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("live lstd", { timeout: 180000 }, () => {
  let srv, c;
  let admin, cust, operator;
  const A = generateKey(), B = generateKey(), C = generateKey(), D = generateKey();
  let refNo = 1n;
  const expected = new Map(); // address -> free shares we expect

  const bal = async (k) => (await c.account(k)).shares;

  before(async () => {
    srv = await startServer();
    admin = loadKeyFile(srv.keyPath("admin"));
    cust = loadKeyFile(srv.keyPath("custodian"));
    operator = loadKeyFile(srv.keyPath("operator"));
    c = await Client.connect({ endpoint: srv.requests, events: srv.events, timeoutMs: 15000 });
  });

  after(async () => {
    if (c) c.close();
    if (srv) await srv.cleanup();
  });

  it("connects: ledger id, health, pool", T, async () => {
    assert.match(c.ledgerId, /^lstd-dev-/);
    const h = await c.health();
    assert.equal(h.status, "ok");
    assert.equal(h.ledger_id, c.ledgerId);
    assert.equal(typeof h.counters.requests, "bigint");
    const p = await c.pool();
    assert.equal(p.ledger_id, c.ledgerId);
    assert.equal(p.admin, admin.address);
    assert.equal(p.custodian, cust.address);
    assert.equal(p.treasury, loadKeyFile(srv.keyPath("treasury")).address);
    assert.equal(p.decimals, 9n);
    assert.equal(c.decimals, 9, "the pool's decimals, kept at connect");
    assert.equal(c.parseUnits("1.5"), 1_500_000_000n);
    assert.equal(c.formatUnits(p.dead_shares), "0.001");
    assert.equal(formatUnits(parseUnits("32", c.decimals), c.decimals), "32");
    assert.equal(p.dead_shares, 1000000n);
    assert.equal(p.rate, "1.000000000000000000");
    assert.equal(p.rate, rateString(p.rate_num, p.rate_den));
    assert.equal(p.operator_count, 1n);
    assert.equal((await c.operator(1)).key, operator.address);
  });

  it("deposit mints exact shares, also above 2^53", T, async () => {
    for (const [key, amount] of [[A, 5_000_000_000_000n], [D, (1n << 60n) + 12345n]]) {
      const p = await c.pool();
      const want = (amount * p.shares) / p.assets;
      const r = await c.deposit(cust, { to: key.address, amount, external_ref: ref(refNo++) });
      assert.equal(r.ok, true, r.message);
      assert.equal(r.error, null);
      assert.equal(r.code, "OK");
      assert.equal(r.recorded, true);
      assert.equal(r.duplicate, false);
      assert.match(r.hash, /^[0-9a-f]{64}$/);
      assert.deepEqual(r.out, { shares_minted: want, amount_credited: amount });
      assert.equal(await bal(key), want);
      expected.set(key.address, want);
      const rec = await c.tx(r.hash);
      assert.equal(rec.seq, r.seq);
      assert.equal(rec.kind, "deposit");
      assert.equal(rec.signer, cust.address);
      assert.equal(rec.fields.to, key.address);
      assert.equal(rec.fields.amount, amount);
      assert.deepEqual(rec.out, r.out);
    }
    assert.ok(expected.get(D.address) > BigInt(Number.MAX_SAFE_INTEGER));
  });

  it("transfer moves exact shares", T, async () => {
    const r = await c.transfer(A, { to: B.address, shares: 5n });
    assert.equal(r.ok, true);
    assert.deepEqual(r.out, { shares_moved: 5n });
    assert.equal(r.nonce, 1n);
    expected.set(A.address, expected.get(A.address) - 5n);
    expected.set(B.address, 5n);
    assert.equal(await bal(A), expected.get(A.address));
    assert.equal(await bal(B), 5n);
  });

  it("pipelines hundreds of transfers with consecutive nonces and exact outputs", T, async () => {
    const N = 300, M = 100;
    const big = (1n << 53n) + 1n;
    const startA = (await c.account(A)).next_nonce;
    const startD = (await c.account(D)).next_nonce;
    const ps = [];
    for (let i = 0; i < N; i++) {
      ps.push(c.transfer(A, { to: B.address, shares: BigInt(i + 1) }));
      if (i < M) ps.push(c.transfer(D, { to: C.address, shares: big + BigInt(i) }));
    }
    const rs = await Promise.all(ps);
    const fromA = rs.filter((_, j) => j % 2 === 0 || j >= 2 * M);
    const fromD = rs.filter((_, j) => j % 2 === 1 && j < 2 * M);
    assert.equal(fromA.length, N);
    assert.equal(fromD.length, M);
    for (const [list, start, amount] of [[fromA, startA, (i) => BigInt(i + 1)], [fromD, startD, (i) => big + BigInt(i)]]) {
      list.forEach((r, i) => {
        assert.equal(r.ok, true, r.message);
        assert.equal(r.nonce, start + BigInt(i));
        assert.deepEqual(r.out, { shares_moved: amount(i) });
        if (i > 0) assert.ok(r.seq > list[i - 1].seq, "applied in nonce order");
      });
    }
    const sumA = (BigInt(N) * BigInt(N + 1)) / 2n;
    const sumD = big * BigInt(M) + (BigInt(M) * BigInt(M - 1)) / 2n;
    expected.set(A.address, expected.get(A.address) - sumA);
    expected.set(B.address, expected.get(B.address) + sumA);
    expected.set(D.address, expected.get(D.address) - sumD);
    expected.set(C.address, sumD);
    for (const k of [A, B, C, D]) assert.equal(await bal(k), expected.get(k.address));
    assert.equal((await c.account(A)).next_nonce, startA + BigInt(N));
    const seqs = rs.map((r) => r.seq).sort((x, y) => (x < y ? -1 : 1));
    assert.equal(new Set(seqs.map(String)).size, N + M, "distinct seqs");
  });

  it("refs: text and 0x-hex come back the way they went in, in records and withdrawals", T, async () => {
    const r = await c.deposit(cust, { to: B.address, amount: 1000n, external_ref: "bank-transfer-0001" });
    assert.equal(r.ok, true, r.message);
    assert.equal((await c.tx(r.hash)).fields.external_ref, "bank-transfer-0001");
    const again = await c.deposit(cust, { to: B.address, amount: 1000n, external_ref: "bank-transfer-0001" });
    assert.equal(again.error, "DEPOSIT_REF_USED", "the same 32 bytes");
    const hex = "0x00ff" + "ab".repeat(30);
    const h = await c.deposit(cust, { to: B.address, amount: 1000n, external_ref: hex });
    assert.equal((await c.tx(h.hash)).fields.external_ref, hex);
    const page = await c.history(B, { after: r.seq - 1n, limit: 2 });
    assert.equal(page.records[0].fields.external_ref, "bank-transfer-0001");
    expected.set(B.address, (expected.get(B.address) ?? 0n) + 2000n);
    assert.equal(await bal(B), expected.get(B.address));
    await assert.rejects(c.deposit(cust, { to: B.address, amount: 1n, external_ref: "ab".repeat(32) }), (e) => e instanceof ArgumentError && e.code === "INVALID_REF");
  });

  it("a rule violation is recorded: INSUFFICIENT_SHARES consumes the nonce", T, async () => {
    const before = await c.account(B);
    const r = await c.transfer(B, { to: A.address, shares: before.shares + 1n });
    assert.equal(r.ok, false);
    assert.equal(r.error, "INSUFFICIENT_SHARES");
    assert.equal(r.code, "INSUFFICIENT_SHARES");
    assert.equal(typeof r.message, "string");
    assert.equal(r.recorded, true);
    assert.equal(r.duplicate, false);
    assert.equal(typeof r.seq, "bigint");
    const afterAcct = await c.account(B);
    assert.equal(afterAcct.next_nonce, before.next_nonce + 1n);
    assert.equal(afterAcct.shares, before.shares);
    const rec = await c.tx(r.hash);
    assert.equal(rec.code, "INSUFFICIENT_SHARES");
    assert.equal(rec.ok, false);
    assert.deepEqual(rec.out, {});
    // the same, thrown: RecordedError with the seq it was recorded at
    const err = await c.submitOrThrow(B, "transfer", { to: A.address, shares: before.shares + 1n }).then(() => undefined, (e) => e);
    assert.ok(err instanceof RecordedError, `got ${err}`);
    assert.equal(err.code, "INSUFFICIENT_SHARES");
    assert.equal(err.recorded, true);
    assert.equal(err.seq, (await c.tx(err.hash)).seq);
    assert.equal(err.request.nonce, before.next_nonce + 1n);
  });

  it("rejections that are not recorded: BAD_SIGNATURE, NONCE_GAP, LEDGER_MISMATCH", T, async () => {
    const before = await c.account(B);
    const tx = signTx(c.ledgerId, B, "transfer", before.next_nonce, { to: A.address, shares: 1n });
    tx.sig = new Uint8Array(tx.sig);
    tx.sig[7] ^= 0x40;
    const e1 = await rejects(c.submitSigned(tx), "BAD_SIGNATURE");
    assert.ok(e1 instanceof RejectedError);
    assert.equal(e1.recorded, false);
    assert.equal(e1.request.op, "transfer");
    assert.equal(e1.request.nonce, before.next_nonce);
    assert.equal(e1.reply.result, undefined);
    assert.equal(e1.hash, toHex(tx.hash));
    await rejects(c.transfer(B, { to: A.address, shares: 1n }, { nonce: before.next_nonce + 5n }), "NONCE_GAP");
    const good = signTx(c.ledgerId, B, "transfer", before.next_nonce, { to: A.address, shares: 1n });
    const raw = await c.request({ op: "transfer", signer: B.publicKey, nonce: good.nonce, to: A.publicKey, shares: 1n, sig: good.sig, ledger: "another-ledger" });
    assert.equal(raw.ok, false);
    assert.equal(raw.error, "LEDGER_MISMATCH");
    const unknown = await c.request({ op: "no_such_op" });
    assert.equal(unknown.error, "UNKNOWN_OP");
    const after = await c.account(B);
    assert.equal(after.next_nonce, before.next_nonce, "no nonce consumed");
    assert.equal(after.shares, before.shares);
    // the tracked nonce was not disturbed
    const r = await c.transfer(B, { to: A.address, shares: 1n });
    assert.equal(r.ok, true);
    assert.equal(r.nonce, before.next_nonce);
    expected.set(B.address, expected.get(B.address) - 1n);
    expected.set(A.address, expected.get(A.address) + 1n);
  });

  it("a stale nonce (another client used it) fails NONCE_USED and resyncs", T, async () => {
    const c2 = await Client.connect({ endpoint: srv.requests, events: srv.events });
    try {
      const r2 = await c2.transfer(B, { to: C.address, shares: 2n });
      assert.equal(r2.ok, true);
    } finally {
      c2.close();
    }
    await rejects(c.transfer(B, { to: C.address, shares: 3n }), "NONCE_USED");
    const r = await c.transfer(B, { to: C.address, shares: 3n });
    assert.equal(r.ok, true);
    assert.equal(r.nonce, (await c.account(B)).nonce);
    expected.set(B.address, expected.get(B.address) - 5n);
    expected.set(C.address, expected.get(C.address) + 5n);
    for (const k of [A, B, C]) assert.equal(await bal(k), expected.get(k.address));
  });

  it("resubmitting returns the recorded result flagged duplicate", T, async () => {
    const n = (await c.account(C)).next_nonce;
    const tx = signTx(c.ledgerId, C, "transfer", n, { to: A.address, shares: 10n });
    const r1 = await c.submitSigned(tx);
    const r2 = await c.submitSigned(tx);
    const again = signTx(c.ledgerId, C, "transfer", n, { to: A.address, shares: 10n }); // fresh aux randomness
    assert.notEqual(toHex(again.sig), toHex(tx.sig));
    const r3 = await c.submitSigned(again);
    assert.equal(r1.duplicate, false);
    for (const r of [r2, r3]) {
      assert.equal(r.ok, true);
      assert.equal(r.duplicate, true);
      assert.equal(r.seq, r1.seq);
      assert.equal(r.hash, r1.hash);
      assert.deepEqual(r.out, r1.out);
    }
    c.resetNonce(C); // nonce n was used outside the tracker
    expected.set(C.address, expected.get(C.address) - 10n);
    expected.set(A.address, expected.get(A.address) + 10n);
    assert.equal(await bal(C), expected.get(C.address));
  });

  it("a request unanswered within timeoutMs is resent once, then fails TIMEOUT", T, async () => {
    const ct = await Client.connect({ endpoint: srv.requests, events: srv.events, timeoutMs: 300 });
    try {
      const w = await ct.transfer(A, { to: B.address, shares: 1n }); // ct now tracks A's nonce
      const n0 = w.nonce + 1n;
      const dups = (await c.health()).counters.duplicates;
      // Server paused: the first send goes unanswered, the resend follows after 300 ms.
      srv.kill("SIGSTOP");
      const p = ct.transfer(A, { to: B.address, shares: 7n });
      await sleep(500);
      srv.kill("SIGCONT");
      const r = await p;
      assert.equal(r.ok, true);
      assert.equal(r.nonce, n0);
      // both copies arrived; the second was answered as a duplicate (and ignored)
      for (let i = 0; i < 50 && (await c.health()).counters.duplicates === dups; i++) await sleep(20);
      assert.ok((await c.health()).counters.duplicates > dups, "the resent copy was a duplicate");
      // Paused past both tries: TIMEOUT, though the transaction may still be applied.
      srv.kill("SIGSTOP");
      let err;
      try {
        const q = ct.transfer(A, { to: B.address, shares: 8n });
        err = await rejects(q, "TIMEOUT");
      } finally {
        srv.kill("SIGCONT");
      }
      let rec;
      for (let i = 0; i < 100 && rec === undefined; i++) {
        try {
          rec = await c.tx(err.hash);
        } catch (e) {
          if (e.code !== "NOT_FOUND") throw e;
          await sleep(20);
        }
      }
      assert.ok(rec, "the timed-out transaction was applied after all");
      assert.equal(rec.nonce, n0 + 1n);
      // the tracker forgot the nonce after the timeout: the next submit asks the server
      const r3 = await ct.transfer(A, { to: B.address, shares: 1n });
      assert.equal(r3.ok, true);
      assert.equal(r3.nonce, n0 + 2n);
    } finally {
      srv.kill("SIGCONT");
      ct.close();
    }
    c.resetNonce(A);
    expected.set(A.address, expected.get(A.address) - 17n);
    expected.set(B.address, expected.get(B.address) + 17n);
    assert.equal(await bal(A), expected.get(A.address));
  });

  it("reports move the rate as they vest; pool rate string, quotes and u64 params are exact", T, async () => {
    const fund = 2_000_000_000_000n;
    const f = await c.operatorFund(cust, { operator_id: 1, amount: fund });
    assert.equal(f.ok, true, f.message);
    assert.deepEqual(f.out, { amount: fund, balance: fund });
    const gain = 3_000_000_007n;
    const rep = await c.report(operator, { operator_id: 1, epoch: 10, balance: fund + gain });
    assert.equal(rep.ok, false);
    assert.equal(rep.error, "REPORT_APR_EXCEEDED");
    assert.deepEqual((await c.operator(1)).held, { epoch: 10n, balance: fund + gain, loss: 0n });
    const before = await c.pool();
    assert.equal(before.unvested, 0n);
    const acc = await c.reportAccept(admin, { operator_id: 1, epoch: 10, balance: fund + gain });
    assert.equal(acc.ok, true, acc.message);
    assert.equal(acc.out.gain, gain);
    assert.equal(acc.out.loss, 0n);
    const fee = acc.out.treasury_fee_shares + acc.out.operator_fee_shares;
    const p = await c.pool();
    // the fee shares are bought at the rate with ceil(fee * A / S) of the reward, at once; the
    // rest vests linearly until vest_end, so A + U grows by the whole reward
    const backing = (fee * before.assets + before.shares - 1n) / before.shares;
    const u0 = gain - backing;
    const vested = (u0 * (p.now - acc.time)) / VEST_S;
    assert.equal(p.vest_end, acc.time + VEST_S);
    assert.equal(p.unvested, u0 - vested);
    assert.equal(p.assets, before.assets + backing + vested);
    assert.equal(p.assets + p.unvested, before.assets + gain);
    assert.equal(p.shares, before.shares + fee);
    assert.equal(p.rate, rateString(p.assets, p.shares));
    assert.match(p.rate, /^1\.\d{18}$/);
    assert.equal(typeof p.total_rewards, "bigint", "a 128-bit total, sent as a string");
    assert.equal(p.total_rewards, gain);
    assert.equal(p.bunker, false);
    assert.equal(p.bunker_rate, null);
    assert.equal(p.held_loss, 0n);
    assert.equal(p.params.VEST_S, VEST_S);
    assert.equal(p.top_operator_id, 1n);
    assert.equal(p.top_operator_share_bps, ((fund + gain) * 10000n) / (p.assets + p.unvested));
    const op = await c.operator(1);
    assert.equal(op.held, null);
    assert.equal(op.balance, fund + gain);
    assert.equal(op.reports.length, 1);
    assert.equal(op.share_bps, p.top_operator_share_bps);
    assert.equal(typeof op.fees_earned, "bigint");
    assert.equal(op.fees_earned, acc.out.operator_fee_shares);
    assert.deepEqual(op.next_report_fees, { treasury_bps: 500n, operator_bps: 500n });
    assert.equal(op.fee.in_force_bps, 500n);

    const x = 1n << 60n;
    const q1 = await c.quote({ amount: x }); // a deposit's price: (A + U) / S, which vesting keeps
    assert.equal(q1.rate_num, p.assets + p.unvested);
    assert.equal(q1.rate_den, p.shares);
    assert.equal(q1.shares, (x * q1.rate_den) / q1.rate_num);
    assert.equal(q1.amount, x);
    assert.ok(q1.shares > BigInt(Number.MAX_SAFE_INTEGER));
    const q2 = await c.quote({ shares: x }); // an exit's price: A / S, A vested to its own time
    assert.ok(q2.rate_num >= p.assets && q2.rate_num <= p.assets + p.unvested);
    assert.equal(q2.amount, (x * q2.rate_num) / q2.rate_den);
    await rejects(c.quote({ amount: 1n, shares: 1n }), "OUT_OF_RANGE");
    await rejects(c.operator(99), "NOT_FOUND");

    const v = (1n << 62n) + 5n;
    const ps = await c.paramSet(admin, { param: "STAKE_LIMIT_MAX", value: v });
    assert.equal(ps.ok, true, ps.message);
    assert.deepEqual(ps.out, { value: v });
    const p2 = await c.pool();
    assert.equal(p2.params.STAKE_LIMIT_MAX, v);
    assert.equal(p2.stake_limit, v);
    assert.equal((await c.paramSet(admin, { param: 1, value: 0 })).ok, true);
    assert.equal((await c.pool()).stake_limit, null);
  });

  it("operator_reset (kind 23) re-anchors at a started epoch; EPOCH_IN_FUTURE beyond", T, async () => {
    const p = await c.pool();
    const op = await c.operator(1);
    const late = await c.operatorReset(admin, { operator_id: 1, epoch: p.epoch + 1000n, balance: op.balance });
    assert.equal(late.ok, false);
    assert.equal(late.error, "EPOCH_IN_FUTURE");
    assert.equal(late.recorded, true);
    const r = await c.operatorReset(admin, { operator_id: 1, epoch: p.epoch, balance: op.balance });
    assert.equal(r.ok, true, r.message);
    assert.deepEqual(r.out, { gain: 0n, loss: 0n, treasury_fee_shares: 0n, operator_fee_shares: 0n });
    const after = await c.operator(1);
    assert.equal(after.last_epoch, p.epoch);
    assert.ok(after.epoch >= p.epoch);
    assert.equal(after.reports.length, 2);
    await assert.rejects(c.operatorReset(admin, { operator_id: 1, epoch: -1, balance: 0 }), (e) => e instanceof ArgumentError && e.code === "INVALID_NUMBER");
  });

  it("rateHistory lists the accepted report and the reset, paged by from and next", T, async () => {
    const all = await c.rateHistory({ limit: 1000 });
    assert.equal(all.next, null);
    assert.deepEqual(all.entries.map((e) => e.kind), ["report_accept", "operator_reset"]);
    const [acc, reset] = all.entries;
    assert.equal(acc.operator_id, 1n);
    assert.equal(acc.gain, 3_000_000_007n);
    assert.equal(acc.loss, 0n);
    assert.ok(acc.unvested > 0n, "the accepted reward vests over VEST_S");
    assert.equal(acc.rate, rateString(acc.assets, acc.shares));
    assert.equal(reset.gain, 0n);
    assert.ok(reset.seq > acc.seq && reset.time >= acc.time);
    assert.equal(typeof reset.batch, "bigint");
    const first = await c.rateHistory({ limit: 1 });
    assert.equal(first.entries.length, 1);
    assert.equal(first.next, acc.seq + 1n);
    const second = await c.rateHistory({ from: first.next, limit: 1 });
    assert.deepEqual(second.entries, [reset]);
    assert.equal(second.next, null);
    assert.deepEqual((await c.rateHistory({ from: reset.seq + 1n })).entries, []);
    await rejects(c.rateHistory({ limit: 1001 }), "OUT_OF_RANGE");
  });

  it("an oracle committee books a balance at its quorum; votes and operators queries", T, async () => {
    const m = [generateKey(), generateKey(), generateKey()];
    const op = await c.operator(1);
    // re-anchor at epoch 1 so that epoch 2 is open for votes (the reset above took this epoch)
    assert.equal((await c.operatorReset(admin, { operator_id: 1, epoch: 1, balance: op.balance })).ok, true);
    for (const [i, quorum] of [[0, 1], [1, 2], [2, 2]]) {
      const r = await c.oracleAdd(admin, { member: m[i].address, quorum });
      assert.equal(r.ok, true, r.message);
      assert.deepEqual(r.out, { members: BigInt(i + 1), quorum: BigInt(quorum) });
    }
    const q = await c.quorumSet(admin, { mode: "committee", quorum: 2 });
    assert.deepEqual(q.out, { mode: 2n, quorum: 2n, members: 3n });
    const p = await c.pool();
    assert.equal(p.report_mode, "committee");
    assert.deepEqual(p.oracle, { members: 3n, quorum: 2n, majority: true, minority: false });
    const own = await c.report(operator, { operator_id: 1, epoch: 2, balance: op.balance });
    assert.equal(own.error, "OPERATOR_REPORTS_DISABLED");
    const v0 = await c.vote(m[0], { operator_id: 1, epoch: 2, balance: op.balance, performance_bps: 9950 });
    assert.deepEqual(v0.out, { support: 1n, quorum: 2n, gain: 0n, loss: 0n });
    await c.vote(m[1], { operator_id: 1, epoch: 2, balance: op.balance + 1n, performance_bps: 9950 });
    const votes = await c.votes({ operatorId: 1 });
    const ep = votes.operators[0].epochs[0];
    assert.equal(ep.epoch, 2n);
    assert.equal(ep.tuples.length, 2);
    assert.deepEqual(ep.not_voted, [m[2].address]);
    const v2 = await c.vote(m[2], { operator_id: 1, epoch: 2, balance: op.balance, performance_bps: 9950 });
    assert.equal(v2.out.support, 2n);
    assert.equal((await c.operator(1)).last_epoch, 2n);
    const after = await c.votes();
    assert.deepEqual(after.operators, []);
    assert.deepEqual(after.differed, [m[1].address]);
    const card = (await c.operators({ order: "performance", activeOnly: true })).operators[0];
    assert.equal(card.operator_id, 1n);
    assert.equal(typeof card.slashed, "bigint");
    assert.ok(card.reports >= 3n);
    await assert.rejects(c.operators({ order: "luck" }), (e) => e instanceof ArgumentError && e.code === "INVALID_ARGUMENT");
    assert.equal((await c.quorumSet(admin, { mode: "operator", quorum: 2 })).ok, true);
  });

  it("liens, withdrawals, queue and account listings", T, async () => {
    const l = await c.lock(A, { beneficiary: B.address, shares: 1000n });
    assert.equal(l.ok, true, l.message);
    const lienId = l.out.lien_id;
    const lien = await c.lien(lienId);
    assert.equal(lien.owner, A.address);
    assert.equal(lien.beneficiary, B.address);
    assert.equal(lien.shares, 1000n);
    assert.equal(lien.expiry, 0n);
    const acct = await c.account(A);
    assert.equal(acct.locked, 1000n);
    assert.equal(acct.liens.length, 1);
    const rel = await c.release(B, { lien_id: lienId, shares: 400n });
    assert.deepEqual(rel.out, { shares_released: 400n, shares_left: 600n });
    assert.equal((await c.lien(lienId)).shares, 600n);
    const sz = await c.seize(B, { lien_id: lienId, shares: 600n, to: D.address });
    assert.equal(sz.ok, true, sz.message);
    assert.equal(sz.out.shares_seized, 600n);
    await rejects(c.lien(lienId), "NOT_FOUND");
    expected.set(A.address, expected.get(A.address) - 600n);
    expected.set(D.address, expected.get(D.address) + 600n);

    const w = await c.withdrawRequest(A, { shares: 10_000n });
    assert.equal(w.ok, true, w.message);
    const wd = await c.withdrawal(w.out.request_id);
    assert.equal(wd.status, "pending");
    assert.equal(wd.amount_at_request, w.out.amount_at_request);
    const q = await c.queue();
    assert.equal(q.pending_count, 1n);
    assert.equal(q.pending_shares, 10_000n);
    const cancel = await c.withdrawCancel(A, { request_id: w.out.request_id });
    assert.deepEqual(cancel.out, { shares_returned: 10_000n });
    assert.equal((await c.withdrawal(w.out.request_id)).status, "cancelled");
    assert.equal((await c.queue()).pending_count, 0n);

    const ap = await c.approve(A, { spender: C.address, shares: 50n });
    assert.deepEqual(ap.out, { allowance: 50n });
    const tf = await c.transferFrom(C, { owner: A.address, to: C.address, shares: 20n });
    assert.deepEqual(tf.out, { shares_moved: 20n, allowance_left: 30n });
    assert.deepEqual((await c.account(A)).allowances, [{ spender: C.address, shares: 30n }]);
    expected.set(A.address, expected.get(A.address) - 20n);
    expected.set(C.address, expected.get(C.address) + 20n);
    for (const k of [A, B, C, D]) assert.equal(await bal(k), expected.get(k.address));
  });

  it("simulate: signed and unsigned, the result a real one gets, nothing recorded", T, async () => {
    const before = await c.account(A), pool0 = await c.pool();
    const s1 = await c.simulate(A, "transfer", { to: B.address, shares: 3n });
    assert.equal(s1.ok, true);
    assert.equal(s1.result.simulated, true);
    assert.equal(s1.result.recorded, false);
    assert.equal(s1.result.nonce, before.next_nonce);
    assert.equal(s1.result.seq, pool0.seq + 1n);
    assert.equal(s1.result.out.shares_moved, 3n);
    const s2 = await c.simulate(A.address, "transfer", { to: B.address, shares: 3n }); // unsigned
    assert.equal(s2.ok, true);
    assert.equal(s2.result.hash, s1.result.hash); // the same transaction: the hash to sign
    const s3 = await c.simulate(A.address, "transfer", { to: B.address, shares: before.shares + 1n });
    assert.equal(s3.ok, false);
    assert.equal(s3.error, "INSUFFICIENT_SHARES");
    assert.equal(s3.result.code, "INSUFFICIENT_SHARES");
    const s4 = await c.simulate(generateKey().address, "transfer", { to: B.address, shares: 1n });
    assert.equal(s4.ok, false);
    assert.equal(s4.error, "SIGNER_HOLDS_NOTHING");
    assert.equal(s4.result, undefined);
    const after = await c.account(A);
    assert.equal(after.next_nonce, before.next_nonce);
    assert.equal(after.shares, before.shares);
    assert.equal((await c.pool()).seq, pool0.seq);
  });

  it("history pages in seq order", T, async () => {
    const all = [];
    for await (const r of c.historyAll(A)) all.push(r);
    assert.ok(all.length > 300, `A has ${all.length} records`);
    const paged = [];
    let after = 0n, pages = 0;
    for (;;) {
      const page = await c.history(A, { after, limit: 37 });
      pages++;
      paged.push(...page.records);
      if (page.next === null) break;
      assert.equal(page.records.length, 37);
      assert.equal(page.next, page.records[page.records.length - 1].seq);
      after = page.next;
    }
    assert.equal(pages, Math.ceil(all.length / 37));
    assert.deepEqual(paged.map((r) => r.seq), all.map((r) => r.seq));
    for (let i = 1; i < all.length; i++) assert.ok(all[i].seq > all[i - 1].seq);
    for (const r of all)
      assert.ok(r.signer === A.address || Object.values(r.fields).includes(A.address) || r.accounts.includes(A.address));
    await rejects(c.history(A, { limit: 501 }), "OUT_OF_RANGE");
  });

  it("events: subscription catches up from the history, then follows live", T, async () => {
    const head = (await c.pool()).seq;
    const sub = c.subscribe({ after: 0 });
    const seen = [];
    try {
      while (seen.length < Number(head)) {
        const { value, done } = await sub.next();
        assert.equal(done, false);
        seen.push(value);
      }
      seen.forEach((r, i) => assert.equal(r.seq, BigInt(i + 1)));
      const page = await c.events({ after: 0, limit: 1000 });
      assert.deepEqual(seen.slice(0, page.records.length), page.records);

      // live: published records arrive in order, with nothing skipped
      const subB = c.subscribe({ after: head, account: B, kind: "transfer" });
      const sent = [];
      for (let i = 0; i < 20; i++) sent.push(c.transfer(C, { to: B.address, shares: 1n }));
      sent.push(c.approve(B, { spender: D.address, shares: 1n }));
      const rs = await Promise.all(sent);
      expected.set(C.address, expected.get(C.address) - 20n);
      expected.set(B.address, expected.get(B.address) + 20n);
      const bySeq = [...rs].sort((x, y) => (x.seq < y.seq ? -1 : 1)); // two signers: any interleaving
      assert.equal(bySeq[0].seq, head + 1n);
      for (const r of bySeq) {
        const { value } = await sub.next();
        assert.equal(value.seq, r.seq);
        assert.equal(value.hash, r.hash);
      }
      const got = [];
      for await (const r of subB) {
        got.push(r);
        if (got.length === 20) break; // closes subB
      }
      assert.deepEqual(got.map((r) => r.hash), rs.slice(0, 20).map((r) => r.hash));
      assert.ok(got.every((r) => r.kind === "transfer" && r.fields.to === B.address));
      assert.equal(subB._closed, true);

      // an account subscription from seq 0 catches up through the account's history
      const subC = c.subscribe({ after: 0, account: C, kind: "transfer_from" });
      const { value: tf } = await subC.next();
      assert.equal(tf.kind, "transfer_from");
      assert.equal(tf.fields.to, C.address);
      subC.close();
      assert.deepEqual(await subC.next(), { value: undefined, done: true });
    } finally {
      sub.close();
    }
    for (const k of [A, B, C, D]) assert.equal(await bal(k), expected.get(k.address));
  });

  it("stops on SIGTERM with exit status 0", T, async () => {
    c.close();
    await rejects(c.pool(), "CLOSED");
    const st = await srv.stop();
    assert.deepEqual(st, { code: 0, signal: null });
  });
});

describe("BUSY under a tiny queue (--queue-max 4)", { timeout: 180000 }, () => {
  it("pipelined transfers from four connections all apply exactly once: the BUSY'd tails are resent", T, async (t) => {
    const srv = await startServer(["--queue-max", "4", "--verify-threads", "1"]);
    const N = 4, PER = 200;
    const keys = Array.from({ length: N }, () => generateKey());
    let c0, clients = [];
    try {
      c0 = await Client.connect({ endpoint: srv.requests, events: srv.events, timeoutMs: 30000 });
      const cust = loadKeyFile(srv.keyPath("custodian"));
      for (const [i, k] of keys.entries()) {
        const d = await c0.deposit(cust, { to: k.address, amount: 1_000_000_000n, external_ref: `busy-test-${i}` });
        assert.equal(d.ok, true, d.message);
      }
      clients = await Promise.all(keys.map(() => Client.connect({ endpoint: srv.requests, timeoutMs: 30000 })));
      const busyBefore = (await c0.health()).counters.busy;
      let busy = 0n, rounds = 0;
      while (busy === 0n && rounds < 5) { // until the server has answered BUSY at least once
        rounds++;
        const ps = [];
        for (let i = 0; i < PER; i++)
          for (let j = 0; j < N; j++) ps.push(clients[j].transfer(keys[j], { to: keys[(j + 1) % N].address, shares: 1n }));
        const rs = await Promise.all(ps); // a NONCE_GAP or BUSY reaching the caller rejects here
        for (const r of rs) assert.equal(r.ok, true, r.message);
        busy = (await c0.health()).counters.busy - busyBefore;
      }
      assert.ok(busy > 0n, "the server answered BUSY");
      t.diagnostic(`${N} connections x ${PER} transfers x ${rounds} round(s): ${busy} BUSY answers, all applied once`);
      for (const k of keys) {
        const a = await c0.account(k);
        assert.equal(a.next_nonce, BigInt(PER * rounds) + 1n, "every nonce used once");
        assert.equal(a.shares, 1_000_000_000n, "sent and received the same count of 1-unit transfers");
        const nonces = [];
        for await (const rec of c0.historyAll(k)) if (rec.signer === k.address) nonces.push(rec.nonce);
        assert.deepEqual(nonces, Array.from({ length: PER * rounds }, (_, i) => BigInt(i + 1)), "each applied exactly once, in order");
      }
    } finally {
      for (const c of clients) c.close();
      if (c0) c0.close();
      await srv.cleanup();
    }
  });
});
