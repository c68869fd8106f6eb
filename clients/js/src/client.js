// client.js - lstd client over ZeroMQ (one DEALER for requests, SUB sockets for events)
//
// Requests are pipelined on one DEALER: each carries a numeric `id` and replies are matched
// by it. A request unanswered within its timeout (`timeoutMs`, per client or per call) is sent
// again, byte for byte, `retries` times (1 by default) before it fails with TIMEOUT: resending
// a transaction is safe, the server answers a duplicate with the recorded result. A refused
// connection fails every request at once (NOT_LISTENING, or DISCONNECTED once it had been up)
// instead of waiting for the timeout, as the C client does.
//
// BUSY consumes no nonce, so a pipelining signer's transactions behind a BUSY one get NONCE_GAP:
// the client resends the BUSY'd transaction after a backoff, alone (a probe), and once it is
// recorded its tail (the same signed transactions), in nonce order; a transaction fails BUSY
// after `busyRetries` BUSY answers (PROTOCOL.md, "Recovering from BUSY"). NO_QUORUM (the leader
// cannot replicate now) is resent the same way, at the same endpoint.
//
// Endpoint lists (replicas of one ledger; PROTOCOL.md, "Endpoint lists and NOT_LEADER (clients)"):
// the client talks to one entry at a time, the first at start. NOT_LEADER moves it to the leader
// the answer names when that is one of the entries (exact match: a hint outside the list is never
// followed), else to the next entry; with several entries a timeout or a refused connection
// moves it to the next entry (instead of a resend in place). A move resends every request in
// flight there, the same bytes in the order first sent (safe: a transaction is applied once or
// answered as the duplicate it is); at most 2 x the entries moves per request, waiting between
// full rounds of the list (50 ms doubling to 1 s, jittered). One rule (_failover) for every path.

import * as zmq from "zeromq";

import {
  kindInfo, normalizeFields, signTx, encodeRequest, encodeMap, decodeReply, decodeResult, convertRecord,
  toBytes, toU64, toHex, address, convertU128, fromU128, PARAMS, ROLES, PAUSE, REPORT_MODES, OPERATOR_ORDERS,
} from "./codec.js";
import { ArgumentError, RecordedError, RejectedError, TransportError } from "./errors.js";
import { parseUnits, formatUnits } from "./units.js";
import { curveSocketOptions } from "./curve.js";

const DEFAULT_ENDPOINT = "tcp://127.0.0.1:7440";
const DEFAULT_EVENTS = "tcp://127.0.0.1:7441";
const SUB_BUFFER_MAX = 10000;
const BUSY_RETRIES = 15;
const BUSY_BACKOFF_MS_MIN = 5;
const BUSY_BACKOFF_MS_MAX = 1000;
const ATTEMPTS_MAX = 256; // sends of one transaction in all (BUSY and NONCE_GAP behind one)
const ENDPOINTS_MAX = 8;
const ROUND_BACKOFF_MS_MIN = 50; // the wait between full rounds of an endpoint list, doubling
const ROUND_BACKOFF_MS_MAX = 1000;

/** The entries of an endpoint list: `endpoints` (an array) or `endpoint` (one, or several
 *  comma-separated without spaces); 1..8 non-empty strings. */
export function endpointList(value, what = "endpoint") {
  const list = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : undefined;
  if (list === undefined || list.length < 1 || list.length > ENDPOINTS_MAX || list.some((e) => typeof e !== "string" || e === "" || /\s/.test(e)))
    throw new ArgumentError("INVALID_ARGUMENT", `${what}: 1 to ${ENDPOINTS_MAX} endpoints (a string, comma-separated without spaces, or an array)`);
  return [...list];
}

/** The wait before round `round` (2, 3, ...) of the list: a random half of the backoff. */
function roundBackoffMs(round) {
  const d = Math.min(ROUND_BACKOFF_MS_MAX, ROUND_BACKOFF_MS_MIN * 2 ** Math.min(round - 2, 10));
  return d / 2 + Math.random() * (d / 2);
}

// Rejections a transaction gets without being recorded, which a simulation reports as they come.
const RECORD_LESS = new Set(["NONCE_USED", "NONCE_GAP", "SIGNER_HOLDS_NOTHING", "BAD_SIGNATURE", "LEDGER_MISMATCH"]);

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

/** A request map as errors carry it: bytes as hex, undefined members left out. */
function describe(v) {
  if (v instanceof Uint8Array) return toHex(v);
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(describe);
  const o = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = describe(x);
  return o;
}

/** The per-call options of a query: the timeout and the resends. */
function callOpts(opts) {
  return opts === undefined ? {} : { timeoutMs: opts.timeoutMs, retries: opts.retries };
}

/**
 * The result if it was applied; a recorded rule violation becomes a RecordedError (code, seq,
 * hash, the result itself). For `expectOk(await client.transfer(...))`.
 */
export function expectOk(result) {
  if (result !== null && typeof result === "object" && result.ok === true) return result;
  if (result === null || typeof result !== "object" || result.recorded !== true)
    throw new ArgumentError("INVALID_ARGUMENT", "expectOk: expected a submit result");
  throw new RecordedError(result.code, `${result.message ?? "rule violation"}; recorded as seq ${result.seq}, nonce ${result.nonce} used`, {
    recorded: true, seq: result.seq, hash: result.hash, result, request: result.request, op: result.kind,
  });
}

export class Client {
  /**
   * Connect and fetch the ledger id and decimals (the `pool` query).
   * `curve`: connect with CurveZMQ (a server started with curve_secret_key): the server's
   * public key and this client's key pair, whose public key is in the server's curve_clients.
   * @param {{endpoint?: string, events?: string, timeoutMs?: number, retries?: number, busyRetries?: number, ledgerId?: string,
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
    /** The configured replicas (opts.endpoints, or opts.endpoint split at commas). */
    this.endpoints = opts.endpoints !== undefined ? endpointList(opts.endpoints, "endpoints") : endpointList(opts.endpoint ?? DEFAULT_ENDPOINT);
    this._at = 0;
    /** Moves to another entry of the list so far. */
    this.switches = 0;
    /** The leader the last NOT_LEADER named (null: none), followed only when in the list. */
    this.leader = null;
    this._moving = undefined; // the timer of a move under way
    // events are published by every replica: the first entry only, or each would come twice
    this.eventsEndpoint = endpointList(opts.events ?? DEFAULT_EVENTS, "events")[0];
    this.timeoutMs = opts.timeoutMs ?? 10000;
    this.retries = opts.retries ?? 1;
    this.busyRetries = opts.busyRetries ?? BUSY_RETRIES;
    /** @type {string|undefined} */
    this.ledgerId = undefined;
    /** The pool's decimals: one token is 10^decimals base units (from the pool query). */
    this.decimals = undefined;
    this._closed = false;
    this._nextId = 1;
    this._pending = new Map(); // String(id) -> pending request
    this._sendChain = Promise.resolve();
    this._nonces = new Map(); // signer hex -> {next (undefined while fetching), gen, waiters}
    this._nonceGen = 0;
    this._jobs = new Map(); // signer hex -> transactions not yet settled, in nonce order
    this._pumpTimer = undefined;
    this._pumpAt = Infinity;
    this._subs = new Set();
    this._curve = curveSocketOptions(opts.curve); // checked before any socket is made
    this._openDealer();
  }

  /** The endpoint in use: an entry of `endpoints`. */
  get endpoint() {
    return this.endpoints[this._at];
  }

  async _init(expectLedger) {
    const pool = await this.pool();
    if (expectLedger !== undefined && pool.ledger_id !== expectLedger)
      throw new RejectedError("LEDGER_MISMATCH", `server ledger is ${pool.ledger_id}, expected ${expectLedger}`, { op: "pool" });
    this.ledgerId = pool.ledger_id;
    this.decimals = Number(pool.decimals);
  }

  /** Tokens as a decimal string to base units with the pool's decimals (parseUnits). */
  parseUnits(text) {
    if (this.decimals === undefined) throw new ArgumentError("INVALID_ARGUMENT", "the pool's decimals are not known yet: Client.connect first");
    return parseUnits(text, this.decimals);
  }

  /** Base units to tokens with the pool's decimals (formatUnits). */
  formatUnits(units) {
    if (this.decimals === undefined) throw new ArgumentError("INVALID_ARGUMENT", "the pool's decimals are not known yet: Client.connect first");
    return formatUnits(units, this.decimals);
  }

  /** Close the sockets; pending requests fail with CLOSED, subscriptions end. */
  close() {
    if (this._closed) return;
    this._closed = true;
    clearTimeout(this._pumpTimer);
    clearTimeout(this._moving);
    for (const s of [...this._subs]) s.close();
    this._failAll(() => new TransportError("CLOSED", "client closed"));
    for (const list of this._jobs.values())
      for (const j of [...list]) this._jobFail(j, new TransportError("CLOSED", "client closed", { op: j.op, request: j.request, hash: j.hash }));
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

  /**
   * A DEALER to the entry in use, and a view of its connection: a ZMTP handshake means lstd is
   * there; a connection attempt refused while none is up means nothing listens there (or no
   * longer): with one entry every request waiting fails at once, and new ones fail until a
   * connection is made again; with several the client moves on (_failover).
   */
  _openDealer() {
    const dealer = new zmq.Dealer({ linger: 0, ...this._curve });
    const link = { up: false, ever: false, refused: false };
    this._dealer = dealer;
    this._link = link;
    this._sendChain = Promise.resolve(); // a send stuck at the old entry holds up no new one
    const ev = dealer.events;
    ev.on("handshake", () => {
      link.up = link.ever = true;
      link.refused = false;
    });
    ev.on("disconnect", () => {
      link.up = false;
    });
    ev.on("connect:retry", () => {
      if (link.up || this._closed || dealer !== this._dealer) return;
      link.refused = true;
      this._onRefused();
    });
    dealer.connect(this.endpoint);
    this._reader = this._readLoop(dealer);
  }

  _onRefused() {
    if (this.endpoints.length < 2) return this._failAll((p) => this._linkError(p));
    for (const [key, p] of [...this._pending]) {
      if (this._failover(p)) continue;
      clearTimeout(p.timer);
      this._pending.delete(key);
      p.reject(this._linkError(p));
    }
  }

  _linkError(p = {}) {
    const extra = { op: p.op, request: p.request, hash: p.hash };
    return this._link.ever
      ? new TransportError("DISCONNECTED", `the connection to ${this.endpoint} was lost and nothing listens there now (the request may or may not have been applied)`, extra)
      : new TransportError("NOT_LISTENING", `nothing listening at ${this.endpoint} (is lstd running there?)`, extra);
  }

  /**
   * The one rule for leaving the entry in use, for every request path (queries, submit,
   * simulate, pipelined transactions): may request p move on after reply r (a NOT_LEADER) or
   * after a transport failure (r undefined: a timeout, nothing listening)? With one entry, or
   * once p has moved 2 x the entries times, no: false (the caller reports the failure). Else
   * the client moves, once however many requests ask (the move resends them all), and true is
   * returned: p stays pending.
   */
  _failover(p, r) {
    const n = this.endpoints.length;
    if (r !== undefined) this.leader = typeof r.leader === "string" ? r.leader : null;
    if (n < 2 || p.switches >= 2 * n) return false;
    clearTimeout(p.timer); // the move sends it again, with a fresh timer
    if (this._moving !== undefined) return true;
    let to = (this._at + 1) % n;
    const hinted = r !== undefined && typeof r.leader === "string" ? this.endpoints.indexOf(r.leader) : -1;
    if (hinted >= 0 && hinted !== this._at) to = hinted;
    const delay = (p.switches + 1) % n === 0 ? roundBackoffMs((p.switches + 1) / n + 1) : 0;
    this._moving = setTimeout(() => {
      this._moving = undefined;
      this._switchTo(to);
    }, delay);
    return true;
  }

  /** Close the DEALER, open one to entry `to` and resend every pending request there. */
  _switchTo(to) {
    if (this._closed) return;
    const old = this._dealer;
    this._at = to;
    this.switches++;
    this._openDealer();
    try {
      old.close();
    } catch {
      // already closed
    }
    for (const [key, p] of this._pending) {
      p.switches++;
      this._transmit(key, p);
    }
  }

  async _readLoop(dealer) {
    try {
      for await (const [frame] of dealer) this._onReply(frame, dealer);
    } catch (e) {
      if (!this._closed && dealer === this._dealer) this._failAll(() => new TransportError("CLOSED", `receive failed: ${e.message}`));
    }
  }

  _failAll(makeError) {
    for (const [key, p] of this._pending) {
      clearTimeout(p.timer);
      this._pending.delete(key);
      p.reject(makeError(p));
    }
  }

  _onReply(frame, dealer) {
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
    if (r.ok !== true && r.error === "NOT_LEADER" && (dealer !== this._dealer || this._failover(p, r))) return; // moved: resent
    clearTimeout(p.timer);
    this._pending.delete(key);
    p.resolve(r);
  }

  _takeId() {
    const id = this._nextId;
    this._nextId = this._nextId >= 0xffffffff ? 1 : this._nextId + 1;
    return id;
  }

  /**
   * Send `bytes` (which carry `id`) and resolve with the decoded reply map. meta: op, request
   * (for errors), hash, timeoutMs and retries (per call; the client's by default).
   */
  _roundTrip(id, bytes, meta) {
    const extra = { op: meta.op, request: meta.request, hash: meta.hash };
    if (this._closed) return Promise.reject(new TransportError("CLOSED", "client closed", extra));
    if (this._link.refused && this.endpoints.length < 2) return Promise.reject(this._linkError(extra));
    return new Promise((resolve, reject) => {
      const p = {
        resolve, reject, ...extra, bytes, tries: 0, timer: undefined, switches: 0, gen: 0,
        timeoutMs: meta.timeoutMs ?? this.timeoutMs, retries: meta.retries ?? this.retries,
      };
      this._pending.set(String(id), p);
      if (!this._link.refused) this._transmit(String(id), p);
      else if (!this._failover(p)) { // several entries, this one refuses: the move sends it
        this._pending.delete(String(id));
        reject(this._linkError(extra));
      }
    });
  }

  /** Forget a request: its reply, if one comes, is dropped; its promise never settles. */
  _cancel(key) {
    const p = this._pending.get(key);
    if (p === undefined) return;
    clearTimeout(p.timer);
    this._pending.delete(key);
  }

  _transmit(key, p) {
    p.tries++;
    // The clock runs from the call (or the resend), including any wait to be sent, so a
    // request fails in bounded time even when nothing can be sent.
    clearTimeout(p.timer);
    p.timer = setTimeout(() => this._onTimeout(key, p), p.timeoutMs);
    // One send at a time (zeromq.js rejects overlapping sends); the chain keeps request order.
    // A later transmission of p (a move) supersedes this one: gen.
    const gen = ++p.gen, dealer = this._dealer;
    this._sendChain = this._sendChain.then(() => {
      if (this._pending.get(key) !== p || p.gen !== gen) return undefined;
      return dealer.send(p.bytes);
    }).catch((e) => {
      if (this._pending.get(key) === p && p.gen === gen && dealer === this._dealer) {
        clearTimeout(p.timer);
        this._pending.delete(key);
        p.reject(new TransportError("CLOSED", this._closed ? "client closed" : `send failed: ${e.message}`, p));
      }
    });
  }

  _onTimeout(key, p) {
    if (this._pending.get(key) !== p) return;
    if (this.endpoints.length > 1 && this._failover(p)) return; // several entries: the next one
    if (this.endpoints.length < 2 && p.tries <= p.retries) {
      this._transmit(key, p);
      return;
    }
    this._pending.delete(key);
    p.reject(new TransportError("TIMEOUT", `no reply from ${this.endpoint} within ${p.timeoutMs} ms (${p.tries} sends)`, p));
  }

  /**
   * Send a request map (its `id` is added) and resolve with the raw decoded reply
   * `{id, ok, error?, message?, result?}` (integers as bigint, bin as hex), whatever `ok` is.
   * @param {object} map
   * @param {{timeoutMs?: number, retries?: number}} [opts]
   */
  request(map, opts = {}) {
    const id = this._takeId();
    let bytes, m;
    try {
      m = { id };
      for (const [k, v] of Object.entries(map)) if (k !== "id") m[k] = v;
      bytes = encodeMap(m);
    } catch (e) {
      return Promise.reject(e);
    }
    return this._roundTrip(id, bytes, { op: map.op, request: describe(m), ...callOpts(opts) });
  }

  // ---- queries ----------------------------------------------------------------------------

  /**
   * Any query: resolves with `result`, rejects with RejectedError(code) when the server answers
   * an error and TransportError when it does not answer. The 128-bit totals the server sends
   * as decimal strings (pool, operator, queue) come back as bigint, like every other amount (one
   * that is not a decimal below 2^128 is PROTOCOL); refs come back as text or 0x-hex.
   * @param {string} op
   * @param {object} [fields]
   * @param {{timeoutMs?: number, retries?: number}} [opts]
   */
  async query(op, fields = {}, opts = {}) {
    const r = await this.request({ op, ...fields }, opts);
    const extra = { reply: r, op, request: describe({ id: r.id, op, ...fields }) };
    if (r.ok !== true) {
      if (typeof r.error !== "string") throw new TransportError("PROTOCOL", "a reply without ok or error", extra);
      throw new RejectedError(r.error, r.message, withLeader(extra, r));
    }
    try {
      return decodeResult(op, r.result);
    } catch (e) {
      throw new TransportError("PROTOCOL", e.message, extra);
    }
  }

  pool(opts) {
    return this.query("pool", {}, callOpts(opts));
  }

  account(account, opts) {
    return this.query("account", { account: accountBytes(account) }, callOpts(opts));
  }

  tx(hash, opts) {
    return this.query("tx", { hash: toBytes(hash, 32, "hash") }, callOpts(opts));
  }

  history(account, opts = {}) {
    return this.query("history", {
      account: accountBytes(account),
      after: optU64(opts.after, "after"),
      limit: optU64(opts.limit, "limit"),
    }, callOpts(opts));
  }

  /** Every record of an account after `after`, page by page. */
  async *historyAll(account, opts = {}) {
    let after = optU64(opts.after, "after") ?? 0n;
    for (;;) {
      const page = await this.history(account, { ...opts, after, limit: opts.limit ?? 500 });
      for (const r of page.records) yield r;
      if (page.next === null || page.next === undefined) return;
      after = page.next;
    }
  }

  operator(operatorId, opts) {
    return this.query("operator", { operator_id: toU64(operatorId, "operator_id") }, callOpts(opts));
  }

  /** `{amount}` → shares a deposit mints; `{shares}` → what shares are worth (base units). */
  quote(q, opts) {
    const fields = {};
    if (q.amount !== undefined) fields.amount = toU64(q.amount, "amount");
    if (q.shares !== undefined) fields.shares = toU64(q.shares, "shares");
    return this.query("quote", fields, callOpts(opts));
  }

  lien(lienId, opts) {
    return this.query("lien", { lien_id: toU64(lienId, "lien_id") }, callOpts(opts));
  }

  withdrawal(requestId, opts) {
    return this.query("withdrawal", { request_id: toU64(requestId, "request_id") }, callOpts(opts));
  }

  queue(opts) {
    return this.query("queue", {}, callOpts(opts));
  }

  events(opts = {}) {
    return this.query("events", { after: optU64(opts.after, "after"), limit: optU64(opts.limit, "limit") }, callOpts(opts));
  }

  health(opts) {
    return this.query("health", {}, callOpts(opts));
  }

  /** The exchange-rate changes with seq >= opts.from (default 0), at most opts.limit (1..1000,
   *  default 100): `{entries, next}`, next the `from` of the following page or null. */
  rateHistory(opts = {}) {
    return this.query("rate_history", { from: optU64(opts.from, "from"), limit: optU64(opts.limit, "limit") }, callOpts(opts));
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
    }, callOpts(opts));
  }

  /** The operators scorecard: `{now, order, operators}`; opts.order one of OPERATOR_ORDERS
   *  (default "id"), opts.activeOnly, opts.reverse, opts.limit. Each operator's `slashed` (a
   *  128-bit total) comes back as a bigint. */
  async operators(opts = {}) {
    if (opts.order !== undefined && !OPERATOR_ORDERS.includes(opts.order))
      throw new ArgumentError("INVALID_ARGUMENT", `order: one of ${OPERATOR_ORDERS.join(", ")}`);
    const fields = { order: opts.order, limit: optU64(opts.limit, "limit") };
    if (opts.activeOnly !== undefined) fields.active_only = opts.activeOnly ? 1n : 0n;
    if (opts.reverse !== undefined) fields.reverse = opts.reverse ? 1n : 0n;
    const r = await this.query("operators", fields, callOpts(opts));
    try {
      return { ...r, operators: r.operators.map((c) => ({ ...c, slashed: fromU128(c.slashed, "operators.slashed") })) };
    } catch (e) {
      throw new TransportError("PROTOCOL", e.message, { op: "operators" });
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
   * Resolves when the ledger recorded it - `ok` false for a recorded rule violation (see
   * submitOrThrow) - and rejects with RejectedError for a rejection that is not recorded
   * (BAD_SIGNATURE, NONCE_GAP, BUSY once the resends are spent, ...), TransportError (TIMEOUT,
   * NOT_LISTENING, ...) or ArgumentError (before anything is sent).
   * @param {{secretKey: Uint8Array, publicKey: Uint8Array}} key
   * @param {string} kind
   * @param {object} fields
   * @param {{nonce?: bigint|number, timeoutMs?: number, retries?: number, auxRand?: Uint8Array}} [opts]
   */
  submit(key, kind, fields, opts = {}) {
    try {
      if (!isKey(key)) throw new ArgumentError("INVALID_KEY", "key: expected a key from generateKey/keyFromHex/loadKeyFile");
      if (this.ledgerId === undefined) throw new TransportError("CLOSED", "client is not connected (Client.connect)");
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
   * What a transaction would do now, recording nothing and consuming no nonce (PROTOCOL.md,
   * "Simulation"; viem's simulateContract, eth_call). With a key it is signed, with opts.nonce
   * or the signer's next nonce (nonce tracking is not touched); with an account (an address,
   * 32 bytes or a public key) it goes unsigned and the server uses the signer's next nonce.
   * Resolves with the transaction reply `{ok, error?, message?, result?}`: result (present
   * when the transaction would be recorded) has simulated: true, the nonce used, the seq and
   * outputs it would get, and the hash to sign for that nonce. Rejects as query does for a
   * reply that is not a transaction reply (RejectedError for BUSY, TransportError, ...): a
   * rejection a real transaction would get unrecorded (NONCE_GAP, SIGNER_HOLDS_NOTHING,
   * BAD_SIGNATURE) resolves with ok false and no result, as it would come.
   * @param {{secretKey: Uint8Array, publicKey: Uint8Array} | string | Uint8Array} keyOrAccount
   * @param {string} kind
   * @param {object} fields
   * @param {{nonce?: bigint|number, timeoutMs?: number, retries?: number}} [opts]
   */
  async simulate(keyOrAccount, kind, fields, opts = {}) {
    if (this.ledgerId === undefined) throw new TransportError("CLOSED", "client is not connected (Client.connect)");
    const k = kindInfo(kind);
    const norm = normalizeFields(k.name, fields);
    const m = { op: k.name };
    if (isKey(keyOrAccount)) {
      const nonce = opts.nonce !== undefined ? toU64(opts.nonce, "nonce") : (await this.account(keyOrAccount.publicKey, opts)).next_nonce;
      const tx = signTx(this.ledgerId, keyOrAccount, k.name, nonce, norm);
      m.signer = toBytes(tx.signer, 32, "signer");
      m.nonce = nonce;
      m.sig = toBytes(tx.sig, 64, "sig");
      m.ledger = this.ledgerId;
    } else {
      m.signer = accountBytes(keyOrAccount, "signer");
      if (opts.nonce !== undefined) m.nonce = toU64(opts.nonce, "nonce");
    }
    for (const [name] of k.fields) m[name] = norm[name];
    m.simulate = true;
    const r = await this.request(m, opts);
    const extra = { reply: r, op: k.name, request: describe(m) };
    if (typeof r.ok !== "boolean" || (!r.ok && typeof r.error !== "string"))
      throw new TransportError("PROTOCOL", "a reply without ok or error", extra);
    if (!r.ok && r.result === undefined && !RECORD_LESS.has(r.error))
      throw new RejectedError(r.error, r.message, withLeader(extra, r)); // not decoded, BUSY, SHUTTING_DOWN, ...
    const { id: _id, ...reply } = r;
    return reply;
  }

  /** As submit, but a recorded rule violation rejects with RecordedError (expectOk). */
  async submitOrThrow(key, kind, fields, opts = {}) {
    return expectOk(await this.submit(key, kind, fields, opts));
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
    const op = kindInfo(tx.kind).name;
    const signer = toBytes(tx.signer, 32, "signer");
    const nonce = toU64(tx.nonce, "nonce");
    const hash = toHex(tx.hash);
    const fields = convertRecord({ fields: describe(normalizeFields(op, tx.fields)) }).fields; // refs as formatRef
    const request = { op, signer: toHex(signer), nonce, ...fields, ledger: this.ledgerId, hash };
    return new Promise((resolve, reject) => {
      const job = {
        tx, op, signerHex: toHex(signer), nonce, hash, request, onUnrecorded, resolve, reject,
        timeoutMs: opts.timeoutMs, retries: opts.retries,
        attempts: 0, busy: 0, probe: false, state: "flight", resendAt: 0, key: undefined, lastError: undefined,
      };
      this._jobAdd(job);
      this._attempt(job);
    });
  }

  // A transaction's life: "flight" (an attempt is out), "wait" (to be resent: it, or a
  // transaction of its signer with a lower nonce, got BUSY), "done". One answered BUSY is a
  // probe: it goes again alone, and its signer's later ones only once it is recorded (the
  // queue that refused it is full: a whole tail sent into it would mostly be refused again).
  // Each attempt has its own request id; starting one forgets the attempt before, whose answer
  // (NONCE_GAP, or the recorded result the new one will also get, as a duplicate) no longer
  // matters.

  _jobAdd(job) {
    let list = this._jobs.get(job.signerHex);
    if (list === undefined) this._jobs.set(job.signerHex, (list = []));
    let i = list.length;
    while (i > 0 && list[i - 1].nonce > job.nonce) i--;
    list.splice(i, 0, job);
  }

  _jobRemove(job) {
    job.state = "done";
    if (job.key !== undefined) this._cancel(job.key);
    const list = this._jobs.get(job.signerHex);
    const i = list === undefined ? -1 : list.indexOf(job);
    if (i >= 0) list.splice(i, 1);
    if (list !== undefined && list.length === 0) this._jobs.delete(job.signerHex);
  }

  _jobFail(job, err) {
    if (job.state === "done") return;
    this._jobRemove(job);
    if (job.onUnrecorded) job.onUnrecorded(); // the next submit asks the server for the nonce
    job.reject(err);
  }

  _attempt(job) {
    if (job.key !== undefined) this._cancel(job.key);
    job.attempts++;
    job.state = "flight";
    const id = this._takeId();
    job.key = String(id);
    const attempt = job.attempts;
    let bytes;
    try {
      bytes = encodeRequest(job.tx, { id, ledger: this.ledgerId });
    } catch (e) {
      this._jobFail(job, e);
      return;
    }
    this._roundTrip(id, bytes, { op: job.op, request: job.request, hash: job.hash, timeoutMs: job.timeoutMs, retries: job.retries }).then(
      (r) => this._onTxReply(job, attempt, r),
      (e) => {
        if (job.state !== "done" && attempt === job.attempts) this._jobFail(job, e);
      },
    );
  }

  _onTxReply(job, attempt, r) {
    if (job.state === "done") return;
    const res = r.result;
    if (res !== undefined && res !== null) {
      this._jobRemove(job);
      if (this._jobs.has(job.signerHex)) this._schedulePump(Date.now()); // the tail after a probe
      job.resolve(this._result(job, r, res));
      return;
    }
    if (attempt !== job.attempts || job.state !== "flight") return;
    const extra = { reply: r, op: job.op, request: job.request, hash: job.hash };
    if (typeof r.error !== "string") return this._jobFail(job, new TransportError("PROTOCOL", "a transaction reply without result or error", extra));
    const room = job.attempts < ATTEMPTS_MAX;
    if ((r.error === "BUSY" || r.error === "NO_QUORUM") && room && job.busy < this.busyRetries) return this._onBusy(job, r.error);
    if (r.error === "NONCE_GAP" && room && this._jobs.get(job.signerHex)[0] !== job) {
      // a transaction before it (lower nonce) is unsettled: it may have got BUSY; resend after it
      job.state = "wait";
      job.lastError = r.error;
      job.resendAt = Date.now();
      this._schedulePump(job.resendAt);
      return;
    }
    const msg = r.error === "BUSY" || r.error === "NO_QUORUM" ? `${r.message ?? "server busy"} (answered ${r.error} ${job.busy + 1} times)` : r.message;
    this._jobFail(job, new RejectedError(r.error, msg, withLeader(extra, r)));
  }

  /** BUSY: resend this transaction after a backoff, alone, and every later one of its signer
   *  once it is recorded. */
  _onBusy(job, error = "BUSY") {
    const delay = Math.min(BUSY_BACKOFF_MS_MAX, BUSY_BACKOFF_MS_MIN * 2 ** Math.min(job.busy++, 10));
    job.probe = true;
    const at = Date.now() + delay;
    for (const j of this._jobs.get(job.signerHex)) {
      if (j.nonce < job.nonce) continue;
      j.state = "wait";
      j.lastError = error;
      j.resendAt = Math.max(j.resendAt, at);
    }
    this._schedulePump(at);
  }

  _schedulePump(at) {
    if (this._closed || at >= this._pumpAt) return;
    clearTimeout(this._pumpTimer);
    this._pumpAt = at;
    this._pumpTimer = setTimeout(() => this._pump(), Math.max(0, at - Date.now()));
  }

  /** Resend the waiting transactions that are due, each signer's in nonce order, none past a
   *  probe (a transaction answered BUSY) that is not recorded yet. */
  _pump() {
    this._pumpTimer = undefined;
    this._pumpAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const list of [...this._jobs.values()]) {
      for (const j of [...list]) {
        if (j.state === "flight" && j.probe) break; // the later ones go once it is recorded
        if (j.state !== "wait") continue;
        if (j.resendAt > now) {
          next = Math.min(next, j.resendAt); // the later ones go after it
          break;
        }
        if (j.attempts >= ATTEMPTS_MAX) {
          this._jobFail(j, new RejectedError(j.lastError ?? "BUSY", `gave up after ${j.attempts} sends`, { op: j.op, request: j.request, hash: j.hash }));
          continue;
        }
        this._attempt(j);
        if (j.probe) break;
      }
    }
    if (next !== Infinity) this._schedulePump(next);
  }

  _result(job, r, res) {
    const out = {
      kind: job.op,
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
      nonce: job.nonce,
    };
    Object.defineProperty(out, "request", { value: job.request, enumerable: false });
    return out;
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
    if (this._closed) throw new TransportError("CLOSED", "client closed");
    return new Subscription(this, opts);
  }
}

/** A NOT_LEADER's error extra carries the leader it named (null: none), as RejectedError.leader. */
function withLeader(extra, r) {
  return r.error === "NOT_LEADER" ? { ...extra, leader: typeof r.leader === "string" ? r.leader : null } : extra;
}

/** The fields with `name` set to 0 unless given (as snake_case or camelCase). */
function withDefault(f, kind, name) {
  if (f === null || typeof f !== "object") throw new ArgumentError("INVALID_ARGUMENT", `${kind}: expected a fields object`);
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
          rec = convertRecord(decodeReply(frames[1]));
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
