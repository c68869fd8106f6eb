// client.js - lstd client over ZeroMQ (one DEALER for requests, SUB sockets for events)
//
// Requests are pipelined on one DEALER: each carries a numeric `id` and replies are matched
// by it. A request unanswered within `timeoutMs` is sent again, byte for byte, `retries`
// times (1 by default) before it fails with TIMEOUT: resending a transaction is safe, the
// server answers a duplicate with the recorded result.

import * as zmq from "zeromq";

import {
  kindInfo, normalizeFields, signTx, encodeRequest, encodeMap, decodeReply, toBytes, toU64,
  toHex, address, convertU128, fromU128, PARAMS, ROLES, PAUSE, REPORT_MODES, OPERATOR_ORDERS,
} from "./codec.js";
import { LstdError } from "./errors.js";
import { curveSocketOptions } from "./curve.js";

const DEFAULT_ENDPOINT = "tcp://127.0.0.1:7440";
const DEFAULT_EVENTS = "tcp://127.0.0.1:7441";
const SUB_BUFFER_MAX = 10000;

function isKey(k) {
  return k !== null && typeof k === "object" && k.secretKey instanceof Uint8Array && k.publicKey instanceof Uint8Array;
}

/** 32 bytes of an account given as a Key, a Uint8Array or hex. */
function accountBytes(a, what = "account") {
  if (a !== null && typeof a === "object" && !(a instanceof Uint8Array) && a.publicKey instanceof Uint8Array)
    return new Uint8Array(a.publicKey);
  return toBytes(a, 32, what);
}

function hasOwn(o, k) {
  return Object.prototype.hasOwnProperty.call(o, k);
}

function optU64(v, what) {
  return v === undefined || v === null ? undefined : toU64(v, what);
}

export class Client {
  /**
   * Connect and fetch the ledger id (the `pool` query).
   * `curve`: connect with CurveZMQ (a server started with curve_secret_key): the server's
   * public key and this client's key pair, whose public key is in the server's curve_clients.
   * @param {{endpoint?: string, events?: string, timeoutMs?: number, retries?: number, ledgerId?: string,
   *          curve?: {serverKey: string|Uint8Array, publicKey: string|Uint8Array, secretKey: string|Uint8Array}}} [opts]
   */
  static async connect(opts = {}) {
    const c = new Client(opts);
    try {
      await c._init(opts.ledgerId);
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  constructor(opts = {}) {
    this.endpoint = opts.endpoint ?? DEFAULT_ENDPOINT;
    this.eventsEndpoint = opts.events ?? DEFAULT_EVENTS;
    this.timeoutMs = opts.timeoutMs ?? 10000;
    this.retries = opts.retries ?? 1;
    /** @type {string|undefined} */
    this.ledgerId = undefined;
    this._closed = false;
    this._nextId = 1;
    this._pending = new Map(); // String(id) -> pending request
    this._sendChain = Promise.resolve();
    this._nonces = new Map(); // signer hex -> {next (undefined while fetching), gen, waiters}
    this._nonceGen = 0;
    this._subs = new Set();
    this._curve = curveSocketOptions(opts.curve); // checked before any socket is made
    this._dealer = new zmq.Dealer({ linger: 0, ...this._curve });
    this._dealer.connect(this.endpoint);
    this._reader = this._readLoop();
  }

  async _init(expectLedger) {
    const pool = await this.pool();
    if (expectLedger !== undefined && pool.ledger_id !== expectLedger)
      throw new LstdError("LEDGER_MISMATCH", `server ledger is ${pool.ledger_id}, expected ${expectLedger}`);
    this.ledgerId = pool.ledger_id;
  }

  /** Close the sockets; pending requests fail with CLOSED, subscriptions end. */
  close() {
    if (this._closed) return;
    this._closed = true;
    for (const s of [...this._subs]) s.close();
    for (const [key, p] of this._pending) {
      clearTimeout(p.timer);
      this._pending.delete(key);
      p.reject(new LstdError("CLOSED", "client closed", { op: p.op }));
    }
    try {
      this._dealer.close();
    } catch {
      // already closed
    }
  }

  get closed() {
    return this._closed;
  }

  // ---- transport ------------------------------------------------------------------------

  async _readLoop() {
    try {
      for await (const [frame] of this._dealer) this._onReply(frame);
    } catch (e) {
      if (!this._closed) this._failAll(new LstdError("CLOSED", `receive failed: ${e.message}`));
    }
  }

  _failAll(err) {
    for (const [key, p] of this._pending) {
      clearTimeout(p.timer);
      this._pending.delete(key);
      p.reject(err);
    }
  }

  _onReply(frame) {
    let r;
    try {
      r = decodeReply(frame);
    } catch {
      return; // not msgpack: nothing to match it to
    }
    if (r === null || typeof r !== "object" || r.id === undefined) return;
    const key = String(r.id);
    const p = this._pending.get(key);
    if (p === undefined) return; // the answer to a resent copy, already settled
    clearTimeout(p.timer);
    this._pending.delete(key);
    p.resolve(r);
  }

  _takeId() {
    const id = this._nextId;
    this._nextId = this._nextId >= 0xffffffff ? 1 : this._nextId + 1;
    return id;
  }

  /** Send `bytes` (which carry `id`) and resolve with the decoded reply map. */
  _roundTrip(id, bytes, op, timeoutMs) {
    if (this._closed) return Promise.reject(new LstdError("CLOSED", "client closed", { op }));
    return new Promise((resolve, reject) => {
      const p = { resolve, reject, op, bytes, tries: 0, timer: undefined, timeoutMs: timeoutMs ?? this.timeoutMs };
      this._pending.set(String(id), p);
      this._transmit(String(id), p);
    });
  }

  _transmit(key, p) {
    p.tries++;
    // The clock runs from the call (or the resend), including any wait to be sent, so a
    // request fails in bounded time even when nothing can be sent.
    clearTimeout(p.timer);
    p.timer = setTimeout(() => this._onTimeout(key, p), p.timeoutMs);
    // One send at a time (zeromq.js rejects overlapping sends); the chain keeps request order.
    this._sendChain = this._sendChain.then(() => {
      if (this._pending.get(key) !== p) return undefined;
      return this._dealer.send(p.bytes);
    }).catch((e) => {
      if (this._pending.get(key) === p) {
        clearTimeout(p.timer);
        this._pending.delete(key);
        p.reject(this._closed ? new LstdError("CLOSED", "client closed", { op: p.op }) : new LstdError("CLOSED", `send failed: ${e.message}`, { op: p.op }));
      }
    });
  }

  _onTimeout(key, p) {
    if (this._pending.get(key) !== p) return;
    if (p.tries <= this.retries) {
      this._transmit(key, p);
      return;
    }
    this._pending.delete(key);
    p.reject(new LstdError("TIMEOUT", `no reply within ${p.timeoutMs} ms (${p.tries} sends)`, { op: p.op }));
  }

  /**
   * Send a request map (its `id` is added) and resolve with the raw decoded reply
   * `{id, ok, error?, message?, result?}` (integers as bigint, bin as hex).
   */
  request(map, opts = {}) {
    const id = this._takeId();
    let bytes;
    try {
      const m = { id };
      for (const [k, v] of Object.entries(map)) if (k !== "id") m[k] = v;
      bytes = encodeMap(m);
    } catch (e) {
      return Promise.reject(e);
    }
    return this._roundTrip(id, bytes, map.op, opts.timeoutMs);
  }

  // ---- queries ----------------------------------------------------------------------------

  /**
   * Any query: resolves with `result`, rejects with LstdError(code) on failure. The 128-bit
   * totals the server sends as decimal strings (pool, operator, queue) come back as bigint,
   * like every other amount; one that is not a decimal below 2^128 is PROTOCOL.
   */
  async query(op, fields = {}, opts = {}) {
    const r = await this.request({ op, ...fields }, opts);
    if (r.ok !== true) throw new LstdError(r.error ?? "PROTOCOL", r.message, { reply: r, op });
    try {
      return convertU128(op, r.result);
    } catch (e) {
      throw new LstdError("PROTOCOL", e.message, { reply: r, op });
    }
  }

  pool() {
    return this.query("pool");
  }

  account(account) {
    return this.query("account", { account: accountBytes(account) });
  }

  tx(hash) {
    return this.query("tx", { hash: toBytes(hash, 32, "hash") });
  }

  history(account, opts = {}) {
    return this.query("history", {
      account: accountBytes(account),
      after: optU64(opts.after, "after"),
      limit: optU64(opts.limit, "limit"),
    });
  }

  /** Every record of an account after `after`, page by page. */
  async *historyAll(account, opts = {}) {
    let after = optU64(opts.after, "after") ?? 0n;
    for (;;) {
      const page = await this.history(account, { after, limit: opts.limit ?? 500 });
      for (const r of page.records) yield r;
      if (page.next === null || page.next === undefined) return;
      after = page.next;
    }
  }

  operator(operatorId) {
    return this.query("operator", { operator_id: toU64(operatorId, "operator_id") });
  }

  /** `{amount}` → shares a deposit mints; `{shares}` → what shares are worth. */
  quote(q) {
    const fields = {};
    if (q.amount !== undefined) fields.amount = toU64(q.amount, "amount");
    if (q.shares !== undefined) fields.shares = toU64(q.shares, "shares");
    return this.query("quote", fields);
  }

  lien(lienId) {
    return this.query("lien", { lien_id: toU64(lienId, "lien_id") });
  }

  withdrawal(requestId) {
    return this.query("withdrawal", { request_id: toU64(requestId, "request_id") });
  }

  queue() {
    return this.query("queue");
  }

  events(opts = {}) {
    return this.query("events", { after: optU64(opts.after, "after"), limit: optU64(opts.limit, "limit") });
  }

  health() {
    return this.query("health");
  }

  /** The exchange-rate changes with seq >= opts.from (default 0), at most opts.limit (1..1000,
   *  default 100): `{entries, next}`, next the `from` of the following page or null. */
  rateHistory(opts = {}) {
    return this.query("rate_history", { from: optU64(opts.from, "from"), limit: optU64(opts.limit, "limit") });
  }

  /** The oracle committee's pending votes and each member's agreement with applied results:
   *  `{report_mode, quorum, last, members, differed, operators, next}`. opts.operatorId: one
   *  operator (else those with pending votes after opts.after, a page of opts.limit, 1..16);
   *  opts.last: comparisons per member to look at (1..64, default 8). */
  votes(opts = {}) {
    return this.query("votes", {
      operator_id: optU64(opts.operatorId, "operatorId"),
      after: optU64(opts.after, "after"),
      limit: optU64(opts.limit, "limit"),
      last: optU64(opts.last, "last"),
    });
  }

  /** The operators scorecard: `{now, order, operators}`; opts.order one of OPERATOR_ORDERS
   *  (default "id"), opts.activeOnly, opts.reverse, opts.limit. Each operator's `slashed` (a
   *  128-bit total) comes back as a bigint. */
  async operators(opts = {}) {
    if (opts.order !== undefined && !OPERATOR_ORDERS.includes(opts.order))
      throw new TypeError(`order: one of ${OPERATOR_ORDERS.join(", ")}`);
    const fields = { order: opts.order, limit: optU64(opts.limit, "limit") };
    if (opts.activeOnly !== undefined) fields.active_only = opts.activeOnly ? 1n : 0n;
    if (opts.reverse !== undefined) fields.reverse = opts.reverse ? 1n : 0n;
    const r = await this.query("operators", fields);
    try {
      return { ...r, operators: r.operators.map((c) => ({ ...c, slashed: fromU128(c.slashed, "operators.slashed") })) };
    } catch (e) {
      throw new LstdError("PROTOCOL", e.message, { op: "operators" });
    }
  }

  // ---- nonces -----------------------------------------------------------------------------

  /**
   * Run `fn(nonce, gen)` synchronously with the signer's next nonce, in call order. The first
   * use of a signer fetches `next_nonce` with the account query; later ones count locally.
   */
  _withNonce(signerHex, fn) {
    let st = this._nonces.get(signerHex);
    if (st === undefined) {
      st = { next: undefined, gen: ++this._nonceGen, waiters: [] };
      this._nonces.set(signerHex, st);
      const mine = st;
      this.account(signerHex).then(
        (a) => {
          mine.next = a.next_nonce;
          const ws = mine.waiters;
          mine.waiters = [];
          for (const w of ws) w.run();
        },
        (e) => {
          if (this._nonces.get(signerHex) === mine) this._nonces.delete(signerHex);
          const ws = mine.waiters;
          mine.waiters = [];
          for (const w of ws) w.fail(e);
        },
      );
    }
    if (st.next !== undefined && st.waiters.length === 0) return fn(st.next++, st.gen);
    const s = st;
    return new Promise((resolve, reject) => {
      s.waiters.push({
        run: () => {
          try {
            resolve(fn(s.next++, s.gen));
          } catch (e) {
            reject(e);
          }
        },
        fail: reject,
      });
    });
  }

  /** Forget the tracked nonce of a signer (the next submit asks the server again). */
  resetNonce(signer) {
    this._nonces.delete(address(signer));
  }

  _invalidateNonce(signerHex, gen) {
    const st = this._nonces.get(signerHex);
    if (st !== undefined && st.gen === gen && st.next !== undefined) this._nonces.delete(signerHex);
  }

  // ---- transactions -----------------------------------------------------------------------

  /**
   * Sign and submit a transaction with the signer's next nonce (or `opts.nonce`).
   * Resolves when the ledger recorded it - `ok` false for a recorded rule violation - and
   * rejects with LstdError for a rejection that is not recorded (BAD_SIGNATURE, NONCE_GAP,
   * BUSY, ...) or a TIMEOUT.
   * @param {{secretKey: Uint8Array, publicKey: Uint8Array}} key
   * @param {string} kind
   * @param {object} fields
   * @param {{nonce?: bigint|number, timeoutMs?: number, auxRand?: Uint8Array}} [opts]
   */
  submit(key, kind, fields, opts = {}) {
    try {
      if (!isKey(key)) throw new TypeError("key: expected a key from generateKey/keyFromHex/loadKeyFile");
      if (this.ledgerId === undefined) throw new LstdError("CLOSED", "client is not connected");
      const k = kindInfo(kind);
      const norm = normalizeFields(k.name, fields);
      const signerHex = toHex(key.publicKey);
      const go = (nonce, gen) => {
        const tx = signTx(this.ledgerId, key, k.name, nonce, norm, { auxRand: opts.auxRand });
        return this._submitTx(tx, opts, gen === undefined ? undefined : () => this._invalidateNonce(signerHex, gen));
      };
      if (opts.nonce !== undefined) return go(toU64(opts.nonce, "nonce"), undefined);
      return this._withNonce(signerHex, go);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Submit a transaction signed elsewhere (see `signTx`). Does not touch nonce tracking.
   * @param {import("./codec.js").SignedTx} tx
   */
  submitSigned(tx, opts = {}) {
    try {
      return this._submitTx(tx, opts, undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  _submitTx(tx, opts, onUnrecorded) {
    const id = this._takeId();
    const bytes = encodeRequest(tx, { id, ledger: this.ledgerId });
    const hash = toHex(tx.hash);
    const op = kindInfo(tx.kind).name;
    return this._roundTrip(id, bytes, op, opts.timeoutMs).then(
      (r) => {
        const res = r.result;
        if (res === undefined || res === null) {
          if (onUnrecorded) onUnrecorded();
          throw new LstdError(r.error ?? "PROTOCOL", r.message ?? "reply without result", { reply: r, op, hash });
        }
        return {
          ok: r.ok === true,
          error: r.ok === true ? null : r.error ?? res.code,
          message: r.ok === true ? null : r.message ?? null,
          code: res.code,
          recorded: res.recorded,
          duplicate: res.duplicate,
          seq: res.seq,
          batch: res.batch,
          time: res.time,
          hash: res.hash,
          out: res.out ?? {},
          nonce: toU64(tx.nonce),
        };
      },
      (e) => {
        if (onUnrecorded) onUnrecorded(); // a TIMEOUT may or may not have been applied
        if (e instanceof LstdError && e.hash === undefined) e.hash = hash; // to look it up by `tx`
        throw e;
      },
    );
  }

  // ---- one helper per kind ------------------------------------------------------------------

  /** custodian: credit `amount` to `to` (min_shares_out defaults to 0). */
  deposit(key, f, opts) {
    return this.submit(key, "deposit", withDefault(f, "deposit", "min_shares_out"), opts);
  }

  transfer(key, f, opts) {
    return this.submit(key, "transfer", f, opts);
  }

  approve(key, f, opts) {
    return this.submit(key, "approve", f, opts);
  }

  transferFrom(key, f, opts) {
    return this.submit(key, "transfer_from", f, opts);
  }

  /** expiry defaults to 0 (no expiry). */
  lock(key, f, opts) {
    return this.submit(key, "lock", withDefault(f, "lock", "expiry"), opts);
  }

  release(key, f, opts) {
    return this.submit(key, "release", f, opts);
  }

  seize(key, f, opts) {
    return this.submit(key, "seize", f, opts);
  }

  /** min_amount_out defaults to 0. */
  withdrawRequest(key, f, opts) {
    return this.submit(key, "withdraw_request", withDefault(f, "withdraw_request", "min_amount_out"), opts);
  }

  withdrawCancel(key, f, opts) {
    return this.submit(key, "withdraw_cancel", f, opts);
  }

  withdrawFinalize(key, f, opts) {
    return this.submit(key, "withdraw_finalize", f, opts);
  }

  withdrawSettle(key, f, opts) {
    return this.submit(key, "withdraw_settle", f, opts);
  }

  operatorFund(key, f, opts) {
    return this.submit(key, "operator_fund", f, opts);
  }

  operatorExit(key, f, opts) {
    return this.submit(key, "operator_exit", f, opts);
  }

  report(key, f, opts) {
    return this.submit(key, "report", f, opts);
  }

  reportAccept(key, f, opts) {
    return this.submit(key, "report_accept", f, opts);
  }

  /** admin: re-anchor an operator at a started epoch, booking `balance` without the limits. */
  operatorReset(key, f, opts) {
    return this.submit(key, "operator_reset", f, opts);
  }

  operatorRegister(key, f, opts) {
    return this.submit(key, "operator_register", f, opts);
  }

  /** active: boolean or 0/1. */
  operatorSetActive(key, f, opts) {
    const g = { ...f };
    if (typeof g.active === "boolean") g.active = g.active ? 1n : 0n;
    return this.submit(key, "operator_set_active", g, opts);
  }

  operatorSetKeys(key, f, opts) {
    return this.submit(key, "operator_set_keys", f, opts);
  }

  /** operator_id 0 is the treasury fee. */
  feeSet(key, f, opts) {
    return this.submit(key, "fee_set", f, opts);
  }

  /** param: its number or its name ("STAKE_LIMIT_MAX", ...). */
  paramSet(key, f, opts) {
    const g = { ...f };
    if (typeof g.param === "string" && hasOwn(PARAMS, g.param)) g.param = BigInt(PARAMS[g.param]);
    return this.submit(key, "param_set", g, opts);
  }

  /** flags: a number or `{deposits, transfers, withdrawals}` booleans. */
  pauseSet(key, f, opts) {
    const g = { ...f };
    if (g.flags !== null && typeof g.flags === "object") {
      let n = 0n;
      for (const [name, bit] of Object.entries(PAUSE)) if (g.flags[name]) n |= BigInt(bit);
      g.flags = n;
    }
    return this.submit(key, "pause_set", g, opts);
  }

  /** admin: add an oracle committee member; `quorum` is M once it is in. */
  oracleAdd(key, f, opts) {
    return this.submit(key, "oracle_add", f, opts);
  }

  /** admin: remove a member and its pending votes; `quorum` is M after. */
  oracleRemove(key, f, opts) {
    return this.submit(key, "oracle_remove", f, opts);
  }

  /** admin: mode (its number or "operator" / "committee"), quorum, minority (boolean or 0/1:
   *  accept a quorum of at most half the members; default 0). */
  quorumSet(key, f, opts) {
    const g = { minority: 0n, ...f };
    if (typeof g.mode === "string" && hasOwn(REPORT_MODES, g.mode)) g.mode = BigInt(REPORT_MODES[g.mode]);
    if (typeof g.minority === "boolean") g.minority = g.minority ? 1n : 0n;
    return this.submit(key, "quorum_set", g, opts);
  }

  /** oracle member: `{operator_id, epoch, balance, performance_bps}`; once `quorum` members
   *  vote the identical tuple, the report is booked (or held) in that vote's transaction. */
  vote(key, f, opts) {
    return this.submit(key, "vote", f, opts);
  }

  /** role: its number or its name ("admin", "custodian", "treasury"). */
  roleSet(key, f, opts) {
    const g = { ...f };
    if (typeof g.role === "string" && hasOwn(ROLES, g.role)) g.role = BigInt(ROLES[g.role]);
    return this.submit(key, "role_set", g, opts);
  }

  // ---- events -----------------------------------------------------------------------------

  /**
   * Records in seq order, as an async iterator. Catches up through the `events` query (or
   * `history` for one account) at start, on a seq gap, and after `pollMs` of silence.
   * `after` omitted: only records after the current last seq.
   * @param {{after?: bigint|number, account?: any, kind?: string, pollMs?: number}} [opts]
   */
  subscribe(opts = {}) {
    if (this._closed) throw new LstdError("CLOSED", "client closed");
    return new Subscription(this, opts);
  }
}

/** The fields with `name` set to 0 unless given (as snake_case or camelCase). */
function withDefault(f, kind, name) {
  if (f === null || typeof f !== "object") throw new TypeError(`${kind}: expected a fields object`);
  const camel = name.replace(/_([a-z])/g, (_, ch) => ch.toUpperCase());
  const o = {};
  for (const [k, v] of Object.entries(f)) if (v !== undefined) o[k] = v;
  if (o[name] === undefined && o[camel] === undefined) o[name] = 0n;
  return o;
}

const STOP = Symbol("stop");

/** An async iterator of records; `close()` (or breaking out of `for await`) ends it. */
export class Subscription {
  constructor(client, opts) {
    this._client = client;
    this.account = opts.account !== undefined ? address(opts.account) : undefined;
    this.kind = opts.kind !== undefined ? kindInfo(opts.kind).name : undefined;
    this._after = optU64(opts.after, "after");
    this._pollMs = opts.pollMs ?? 1000;
    /** Last seq covered (every record up to it was delivered or did not match). */
    this.cursor = this._after;
    this._buffer = [];
    this._waiter = undefined;
    this._timer = undefined;
    this._closed = false;
    this._ended = false;
    this._error = undefined;
    this._sock = new zmq.Subscriber({ linger: 0, ...client._curve });
    this._sock.connect(client.eventsEndpoint);
    // A global stream (tx/) has consecutive seqs, so gaps are visible; one account's stream
    // is caught up through its history.
    this._sock.subscribe(this.account !== undefined ? `acct/${this.account}/` : "tx/");
    client._subs.add(this);
    // "From now" is the last seq when subscribe() was called, not when iteration starts.
    this._start = this.cursor !== undefined ? Promise.resolve(this.cursor) : client.pool().then((p) => p.seq);
    this._start.catch(() => {}); // reported by the first next()
    this._pump();
    this._gen = this._run();
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next() {
    return this._gen.next();
  }

  return(v) {
    this.close();
    return this._gen.return(v);
  }

  throw(e) {
    this.close();
    return this._gen.throw(e);
  }

  close() {
    if (this._closed) return;
    this._closed = true;
    this._client._subs.delete(this);
    try {
      this._sock.close();
    } catch {
      // already closed
    }
    this._wake(STOP);
  }

  async _pump() {
    try {
      for await (const frames of this._sock) {
        if (frames.length < 2) continue;
        let rec;
        try {
          rec = decodeReply(frames[1]);
        } catch {
          continue;
        }
        if (rec === null || typeof rec !== "object" || typeof rec.seq !== "bigint") continue;
        if (this._waiter !== undefined) this._wake(rec);
        else if (this._buffer.length < SUB_BUFFER_MAX) this._buffer.push(rec);
        // else: dropped; the seq gap makes _run catch up through the query
      }
    } catch (e) {
      if (!this._closed) this._error = e;
    }
    this._ended = true;
    this._wake(STOP);
  }

  _wake(v) {
    const w = this._waiter;
    if (w === undefined) return;
    this._waiter = undefined;
    clearTimeout(this._timer);
    w(v);
  }

  /** The next published record, null after pollMs of silence, STOP when closed. */
  _take() {
    if (this._buffer.length > 0) return Promise.resolve(this._buffer.shift());
    if (this._closed || this._ended) return Promise.resolve(STOP);
    return new Promise((resolve) => {
      this._waiter = resolve;
      if (this._pollMs > 0) this._timer = setTimeout(() => this._wake(null), this._pollMs);
    });
  }

  _matches(rec) {
    return this.kind === undefined || rec.kind === this.kind;
  }

  async *_catchUp() {
    for (;;) {
      if (this._closed) return;
      const page = this.account !== undefined
        ? await this._client.history(this.account, { after: this.cursor, limit: 500 })
        : await this._client.events({ after: this.cursor, limit: 1000 });
      for (const r of page.records) {
        if (r.seq <= this.cursor) continue;
        this.cursor = r.seq;
        if (this._matches(r)) yield r;
        if (this._closed) return;
      }
      if (page.next === null || page.next === undefined || page.records.length === 0) return;
    }
  }

  async *_run() {
    try {
      this.cursor = await this._start;
      yield* this._catchUp();
      while (!this._closed) {
        const rec = await this._take();
        if (rec === STOP) break;
        if (rec === null) {
          yield* this._catchUp();
          continue;
        }
        if (rec.seq <= this.cursor) continue;
        if (rec.seq !== this.cursor + 1n) {
          yield* this._catchUp(); // a gap: the history is the truth
          // Still not next (the query did not show it yet): never skip; a later record, or
          // the idle poll, catches up again.
          if (rec.seq !== this.cursor + 1n) continue;
        }
        this.cursor = rec.seq;
        if (this._matches(rec)) yield rec;
      }
      if (this._error !== undefined && !this._closed) throw this._error;
    } catch (e) {
      if (!this._closed) throw e; // closed meanwhile (e.g. the client): end quietly
    } finally {
      this.close();
    }
  }
}
