// codec.js - transaction kinds, signing bytes, tagged hash, BIP-340 signatures, msgpack requests
//
// Everything here is pure (no sockets) so integrators can build and sign transactions offline.
// The layout is PROTOCOL.md "Signing"; the kinds table is ledger/README.md "Kinds".

import { randomBytes as nodeRandomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { Encoder, Decoder } from "@msgpack/msgpack";
import { schnorr } from "@noble/curves/secp256k1";
import { sha256 } from "@noble/hashes/sha2";

export const U64_MAX = (1n << 64n) - 1n;
export const U128_MAX = (1n << 128n) - 1n;
const U32_MAX = 0xffffffffn;

// ---- kinds ----------------------------------------------------------------------------------

// Field types: "key" (32-byte x-only public key), "ref" (32 opaque bytes), "u64".
/** @type {ReadonlyArray<{kind:number,name:string,fields:ReadonlyArray<[string,string]>,outputs:ReadonlyArray<string>}>} */
export const KINDS = Object.freeze([
  { kind: 1, name: "deposit", fields: [["to", "key"], ["amount", "u64"], ["external_ref", "ref"], ["min_shares_out", "u64"]], outputs: ["shares_minted", "amount_credited"] },
  { kind: 2, name: "transfer", fields: [["to", "key"], ["shares", "u64"]], outputs: ["shares_moved"] },
  { kind: 3, name: "approve", fields: [["spender", "key"], ["shares", "u64"]], outputs: ["allowance"] },
  { kind: 4, name: "transfer_from", fields: [["owner", "key"], ["to", "key"], ["shares", "u64"]], outputs: ["shares_moved", "allowance_left"] },
  { kind: 5, name: "lock", fields: [["beneficiary", "key"], ["shares", "u64"], ["expiry", "u64"]], outputs: ["lien_id", "shares_locked", "value"] },
  { kind: 6, name: "release", fields: [["lien_id", "u64"], ["shares", "u64"]], outputs: ["shares_released", "shares_left"] },
  { kind: 7, name: "seize", fields: [["lien_id", "u64"], ["shares", "u64"], ["to", "key"]], outputs: ["shares_seized", "value", "shares_left"] },
  { kind: 8, name: "withdraw_request", fields: [["shares", "u64"], ["min_amount_out", "u64"]], outputs: ["request_id", "amount_at_request"] },
  { kind: 9, name: "withdraw_cancel", fields: [["request_id", "u64"]], outputs: ["shares_returned"] },
  { kind: 10, name: "withdraw_finalize", fields: [["up_to_id", "u64"]], outputs: ["requests_paid", "amount_paid", "shares_burned", "requests_returned"] },
  { kind: 11, name: "withdraw_settle", fields: [["request_id", "u64"], ["payout_ref", "ref"]], outputs: ["amount_paid"] },
  { kind: 12, name: "operator_fund", fields: [["operator_id", "u64"], ["amount", "u64"]], outputs: ["amount", "balance"] },
  { kind: 13, name: "operator_exit", fields: [["operator_id", "u64"], ["amount", "u64"]], outputs: ["amount", "balance"] },
  { kind: 14, name: "report", fields: [["operator_id", "u64"], ["epoch", "u64"], ["balance", "u64"]], outputs: ["gain", "loss", "treasury_fee_shares", "operator_fee_shares"] },
  { kind: 15, name: "report_accept", fields: [["operator_id", "u64"], ["epoch", "u64"], ["balance", "u64"]], outputs: ["gain", "loss", "treasury_fee_shares", "operator_fee_shares"] },
  { kind: 16, name: "operator_register", fields: [["operator", "key"], ["fee_account", "key"], ["fee_bps", "u64"]], outputs: ["operator_id"] },
  { kind: 17, name: "operator_set_active", fields: [["operator_id", "u64"], ["active", "u64"]], outputs: ["active"] },
  { kind: 18, name: "operator_set_keys", fields: [["operator_id", "u64"], ["operator", "key"], ["fee_account", "key"]], outputs: ["operator_id"] },
  { kind: 19, name: "fee_set", fields: [["operator_id", "u64"], ["fee_bps", "u64"]], outputs: ["fee_bps", "effective_at"] },
  { kind: 20, name: "param_set", fields: [["param", "u64"], ["value", "u64"]], outputs: ["value"] },
  { kind: 21, name: "pause_set", fields: [["flags", "u64"]], outputs: ["flags"] },
  { kind: 22, name: "role_set", fields: [["role", "u64"], ["account", "key"]], outputs: ["role"] },
  { kind: 23, name: "operator_reset", fields: [["operator_id", "u64"], ["epoch", "u64"], ["balance", "u64"]], outputs: ["gain", "loss", "treasury_fee_shares", "operator_fee_shares"] },
  { kind: 24, name: "oracle_add", fields: [["member", "key"], ["quorum", "u64"]], outputs: ["members", "quorum"] },
  { kind: 25, name: "oracle_remove", fields: [["member", "key"], ["quorum", "u64"]], outputs: ["members", "quorum", "votes_removed"] },
  { kind: 26, name: "quorum_set", fields: [["mode", "u64"], ["quorum", "u64"], ["minority", "u64"]], outputs: ["mode", "quorum", "members"] },
  { kind: 27, name: "vote", fields: [["operator_id", "u64"], ["epoch", "u64"], ["balance", "u64"], ["performance_bps", "u64"]], outputs: ["support", "quorum", "gain", "loss"] },
].map((k) => Object.freeze({ ...k, fields: Object.freeze(k.fields.map((f) => Object.freeze(f))), outputs: Object.freeze(k.outputs) })));

const KIND_BY_NAME = new Map(KINDS.map((k) => [k.name, k]));

/** Ledger parameters for `param_set` (ledger/README.md, Parameters). */
export const PARAMS = Object.freeze({
  STAKE_LIMIT_MAX: 1,
  STAKE_LIMIT_REFILL: 2,
  MAX_APR_BPS: 3,
  MAX_DROP_BPS: 4,
  OPERATOR_CAP_BPS: 5,
  FEE_DELAY_S: 6,
  EPOCH_S: 7,
  VEST_S: 8,
});

/** Roles for `role_set`. */
export const ROLES = Object.freeze({ admin: 1, custodian: 2, treasury: 3 });

/** Report modes for `quorum_set`: who books validator balances (ledger/README.md, "Oracle
 *  committee"). */
export const REPORT_MODES = Object.freeze({ operator: 1, committee: 2 });

/** Orders of the `operators` query (PROTOCOL.md, operators). */
export const OPERATOR_ORDERS = Object.freeze(["id", "fee", "apr_7d", "apr_30d", "apr", "share", "performance_7d", "performance_30d", "performance"]);

/** Pause flags for `pause_set` (OR them together). */
export const PAUSE = Object.freeze({ deposits: 1, transfers: 2, withdrawals: 4 });

function camelToSnake(s) {
  return s.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** The kind descriptor for a wire name ("transfer_from") or its camelCase ("transferFrom"). */
export function kindInfo(name) {
  const k = KIND_BY_NAME.get(name) ?? KIND_BY_NAME.get(camelToSnake(String(name)));
  if (k === undefined) throw new TypeError(`unknown transaction kind: ${name}`);
  return k;
}

// ---- values ---------------------------------------------------------------------------------

const HEX_RE = /^[0-9a-fA-F]*$/;

export function toHex(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function fromHex(hex, len, what = "value") {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || !HEX_RE.test(hex))
    throw new TypeError(`${what}: not a hex string`);
  const b = new Uint8Array(Buffer.from(hex, "hex"));
  if (len !== undefined && b.length !== len)
    throw new TypeError(`${what}: expected ${len} bytes, got ${b.length}`);
  return b;
}

/** 32 (or `len`) bytes from a hex string or a Uint8Array (copied). */
export function toBytes(v, len, what = "value") {
  if (typeof v === "string") return fromHex(v, len, what);
  if (v instanceof Uint8Array) {
    if (v.length !== len) throw new TypeError(`${what}: expected ${len} bytes, got ${v.length}`);
    return new Uint8Array(v);
  }
  throw new TypeError(`${what}: expected a hex string or a Uint8Array`);
}

/** An unsigned 64-bit value from a bigint, a safe integer number or a decimal string. */
export function toU64(v, what = "value") {
  let b;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new TypeError(`${what}: ${v} is not a safe integer; use a bigint`);
    b = BigInt(v);
  } else if (typeof v === "string" && /^[0-9]+$/.test(v)) b = BigInt(v);
  else throw new TypeError(`${what}: expected a bigint, a safe integer or a decimal string`);
  if (b < 0n || b > U64_MAX) throw new RangeError(`${what}: ${b} is outside 0..2^64-1`);
  return b;
}

// ---- keys -----------------------------------------------------------------------------------

/**
 * A signing key: `secretKey` 32 bytes, `publicKey` 32-byte x-only key, `address` its hex.
 * @typedef {{secretKey: Uint8Array, publicKey: Uint8Array, address: string}} Key
 */

function makeKey(sk) {
  const pk = schnorr.getPublicKey(sk); // throws for 0 or >= n
  return Object.freeze({ secretKey: sk, publicKey: pk, address: toHex(pk) });
}

/** A fresh random key (node:crypto randomness). */
export function generateKey() {
  for (;;) {
    const sk = new Uint8Array(nodeRandomBytes(32));
    try {
      return makeKey(sk);
    } catch {
      // 0 or >= the group order: astronomically unlikely, draw again
    }
  }
}

/** A key from 64 hex characters of the secret key. */
export function keyFromHex(hex) {
  const sk = fromHex(String(hex).trim(), 32, "secret key");
  try {
    return makeKey(sk);
  } catch {
    throw new TypeError("secret key: not a valid secp256k1 secret key");
  }
}

/**
 * A key from a file holding 64 hex characters of the secret key (lstd's keys/<role>.key).
 * Like lstd and lst, refuses a file that group or others may read or write, and one in a
 * directory others may write to (unless sticky, like /tmp): the error says how to fix it.
 */
export function loadKeyFile(path) {
  const mode = statSync(path).mode;
  if (mode & 0o077)
    throw new Error(`key file ${path} has mode ${(mode & 0o7777).toString(8).padStart(4, "0")}: ` +
      `group or others can read it; run chmod 600 ${path}`);
  const dir = dirname(path), dmode = statSync(dir).mode;
  if ((dmode & 0o002) && !(dmode & 0o1000))
    throw new Error(`key directory ${dir} is writable by others, who could replace ${path}; ` +
      `run chmod o-w ${dir}`);
  return keyFromHex(readFileSync(path, "utf8"));
}

/** Lowercase hex address of a public key (Uint8Array or hex) or of a Key. */
export function address(pk) {
  if (pk !== null && typeof pk === "object" && !(pk instanceof Uint8Array) && "publicKey" in pk)
    return toHex(pk.publicKey);
  return toHex(toBytes(pk, 32, "public key"));
}

// ---- signing --------------------------------------------------------------------------------

/**
 * Normalize a transaction's fields for `kind`: keys/refs to Uint8Array(32), integers to bigint.
 * Field names may be the wire's snake_case or camelCase; unknown and missing fields throw.
 */
export function normalizeFields(kind, fields) {
  const k = kindInfo(kind);
  const src = fields ?? {};
  const out = {};
  const known = new Set();
  for (const [name, type] of k.fields) {
    const camel = name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
    known.add(name);
    known.add(camel);
    let v = src[name];
    if (v !== undefined && camel !== name && src[camel] !== undefined)
      throw new TypeError(`${k.name}: field ${name} given twice (also as ${camel})`);
    if (v === undefined) v = src[camel];
    if (v === undefined) throw new TypeError(`${k.name}: missing field ${name}`);
    if (type === "key" && v !== null && typeof v === "object" && v.publicKey instanceof Uint8Array) v = v.publicKey; // a Key
    out[name] = type === "u64" ? toU64(v, `${k.name}.${name}`) : toBytes(v, 32, `${k.name}.${name}`);
  }
  for (const name of Object.keys(src))
    if (!known.has(name)) throw new TypeError(`${k.name}: unknown field ${name}`);
  return out;
}

/**
 * The signing bytes: 0x01, kind u8, signer 32, nonce u64 BE, then the kind's fields in table
 * order (keys/refs 32 bytes, integers u64 BE).
 * @param {{kind: string, signer: Uint8Array|string, nonce: bigint|number, fields: object}} tx
 */
export function signingBytes(tx) {
  const k = kindInfo(tx.kind);
  const signer = toBytes(tx.signer, 32, "signer");
  const nonce = toU64(tx.nonce, "nonce");
  const fields = normalizeFields(k.name, tx.fields);
  const size = 1 + 1 + 32 + 8 + k.fields.reduce((n, [, t]) => n + (t === "u64" ? 8 : 32), 0);
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  let p = 0;
  buf[p++] = 1;
  buf[p++] = k.kind;
  buf.set(signer, p);
  p += 32;
  view.setBigUint64(p, nonce);
  p += 8;
  for (const [name, type] of k.fields) {
    if (type === "u64") {
      view.setBigUint64(p, fields[name]);
      p += 8;
    } else {
      buf.set(fields[name], p);
      p += 32;
    }
  }
  return buf;
}

const tagCache = new Map();

/** BIP-340 tagged hash SHA256(SHA256(tag) || SHA256(tag) || msg). */
export function taggedHash(tag, msg) {
  let th = tagCache.get(tag);
  if (th === undefined) {
    th = sha256(new TextEncoder().encode(tag));
    if (tagCache.size < 64) tagCache.set(tag, th);
  }
  const h = sha256.create();
  h.update(th);
  h.update(th);
  h.update(msg);
  return h.digest();
}

/** The transaction hash: tagged hash with tag "lstd/tx/v1/" + ledgerId over the signing bytes. */
export function txHash(ledgerId, tx) {
  if (typeof ledgerId !== "string" || ledgerId.length === 0) throw new TypeError("ledgerId: expected a non-empty string");
  return taggedHash("lstd/tx/v1/" + ledgerId, signingBytes(tx));
}

/**
 * BIP-340 signature (64 bytes) of a 32-byte message. `auxRand` defaults to 32 fresh random
 * bytes; pass 32 zero bytes only for reproducible test vectors.
 */
export function sign(msgHash, secretKey, auxRand) {
  const sk = secretKey !== null && typeof secretKey === "object" && "secretKey" in secretKey ? secretKey.secretKey : toBytes(secretKey, 32, "secret key");
  const aux = auxRand === undefined ? new Uint8Array(nodeRandomBytes(32)) : toBytes(auxRand, 32, "auxRand");
  return schnorr.sign(toBytes(msgHash, 32, "hash"), sk, aux);
}

/** BIP-340 verification of a 64-byte signature. */
export function verify(sig, msgHash, publicKey) {
  try {
    return schnorr.verify(toBytes(sig, 64, "signature"), toBytes(msgHash, 32, "hash"), toBytes(publicKey, 32, "public key"));
  } catch {
    return false;
  }
}

/**
 * A signed transaction, ready for `encodeRequest` or `Client.submitSigned`.
 * @typedef {{kind: string, signer: Uint8Array, nonce: bigint, fields: object, hash: Uint8Array, sig: Uint8Array}} SignedTx
 */

/**
 * Build and sign a transaction offline.
 * @param {string} ledgerId
 * @param {{secretKey: Uint8Array}|Uint8Array|string} key
 * @param {string} kind
 * @param {bigint|number} nonce
 * @param {object} fields
 * @param {{auxRand?: Uint8Array}} [opts]
 * @returns {SignedTx}
 */
export function signTx(ledgerId, key, kind, nonce, fields, opts = {}) {
  const k = kindInfo(kind);
  const sk = key !== null && typeof key === "object" && "secretKey" in key ? key.secretKey : toBytes(key, 32, "secret key");
  const signer = key !== null && typeof key === "object" && "publicKey" in key ? key.publicKey : schnorr.getPublicKey(sk);
  const tx = { kind: k.name, signer: new Uint8Array(signer), nonce: toU64(nonce, "nonce"), fields: normalizeFields(k.name, fields) };
  const hash = txHash(ledgerId, tx);
  const sig = sign(hash, sk, opts.auxRand);
  return { ...tx, hash, sig };
}

// ---- msgpack --------------------------------------------------------------------------------

// Requests: integers go out in the smallest msgpack uint (the server accepts any width; the
// test vectors use the smallest): values below 2^32 as numbers, larger as bigint, which the
// encoder writes as uint64 (0xcf) - the smallest format for them anyway.
const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });

function wireValue(v) {
  if (typeof v === "bigint") {
    if (v < 0n || v > U64_MAX) throw new RangeError(`integer ${v} is outside 0..2^64-1`);
    return v <= U32_MAX ? Number(v) : v;
  }
  if (typeof v === "number") {
    if (Number.isInteger(v)) return wireValue(toU64(v));
    throw new TypeError(`not an integer: ${v}`);
  }
  if (v instanceof Uint8Array || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(wireValue);
  const o = {};
  for (const [key, val] of Object.entries(v)) if (val !== undefined) o[key] = wireValue(val);
  return o;
}

/** msgpack bytes of one request map (keys in insertion order). */
export function encodeMap(map) {
  return encoder.encode(wireValue(map));
}

/**
 * The msgpack request for a signed transaction: `id` (optional), `op`, `signer`, `nonce`,
 * the kind's fields in table order, `sig`, then `ledger` when given.
 * @param {SignedTx} tx
 * @param {{id?: number|bigint|string, ledger?: string}} [opts]
 */
export function encodeRequest(tx, opts = {}) {
  const k = kindInfo(tx.kind);
  const fields = normalizeFields(k.name, tx.fields);
  const m = {};
  if (opts.id !== undefined) m.id = opts.id;
  m.op = k.name;
  m.signer = toBytes(tx.signer, 32, "signer");
  m.nonce = toU64(tx.nonce, "nonce");
  for (const [name] of k.fields) m[name] = fields[name];
  m.sig = toBytes(tx.sig, 64, "sig");
  if (opts.ledger !== undefined) m.ledger = opts.ledger;
  return encodeMap(m);
}

// Replies: every integer becomes a bigint (u64 values keep full precision; one rule for all),
// every bin becomes lowercase hex (keys, hashes, refs, signatures).
const decoder = new Decoder({ useBigInt64: true });

function fromWire(v) {
  if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : v;
  if (v instanceof Uint8Array) return toHex(v);
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(fromWire);
  const o = {};
  for (const [key, val] of Object.entries(v)) o[key] = fromWire(val);
  return o;
}

/** Decode one reply (or event record): integers as bigint, bin as lowercase hex strings. */
export function decodeReply(bytes) {
  return fromWire(decoder.decode(bytes));
}

// The 128-bit totals the server sends as decimal strings (PROTOCOL.md, "u128"), by query.
export const U128_FIELDS = Object.freeze({
  pool: Object.freeze(["payable", "total_deposited", "total_rewards", "total_slashed", "total_paid"]),
  operator: Object.freeze(["funded_since", "exited_since", "fees_earned"]),
  queue: Object.freeze(["pending_amount", "payable"]),
});

/** A 128-bit value from its decimal string (or an integer already decoded): a bigint. */
export function fromU128(v, what = "value") {
  let b;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "string" && /^[0-9]{1,39}$/.test(v)) b = BigInt(v);
  else throw new TypeError(`${what}: expected a string of decimal digits, got ${typeof v}`);
  if (b > U128_MAX) throw new RangeError(`${what}: ${b} is outside 0..2^128-1`);
  return b;
}

/** A copy of a query result with its 128-bit totals (U128_FIELDS[op]) as bigint. */
export function convertU128(op, result) {
  const names = U128_FIELDS[op];
  if (names === undefined || result === null || typeof result !== "object") return result;
  const out = { ...result };
  for (const name of names) if (name in out) out[name] = fromU128(out[name], `${op}.${name}`);
  return out;
}
