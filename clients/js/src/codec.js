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

import { ArgumentError } from "./errors.js";
import { KINDS as KIND_TABLE, PARAMS as PARAM_TABLE } from "./tables.js";
import { U64_MAX, parseRef, formatRef } from "./units.js";

export { U64_MAX };
export const U128_MAX = (1n << 128n) - 1n;
const U32_MAX = 0xffffffffn;

// ---- kinds ----------------------------------------------------------------------------------

// The tables are generated from the C ones (tables.js, lstd-gen-types). Field types: "key"
// (32-byte x-only public key), "ref" (32 bytes: text or 0x-hex, units.js), "u64".
/** @type {ReadonlyArray<{kind:number,name:string,fields:ReadonlyArray<[string,string]>,outputs:ReadonlyArray<string>}>} */
export const KINDS = Object.freeze(KIND_TABLE.map((k) => Object.freeze({ ...k, fields: Object.freeze(k.fields.map((f) => Object.freeze([...f]))), outputs: Object.freeze([...k.outputs]) })));

const KIND_BY_NAME = new Map(KINDS.map((k) => [k.name, k]));

/** Ledger parameters for `param_set` (ledger/README.md, Parameters). */
export const PARAMS = Object.freeze({ ...PARAM_TABLE });

/** Roles for `role_set`. */
export const ROLES = Object.freeze({ admin: 1, custodian: 2, treasury: 3 });

/** Report modes for `quorum_set`: who books validator balances (ledger/README.md, "Oracle
 *  committee"). */
export const REPORT_MODES = Object.freeze({ operator: 1, committee: 2 });

/** Orders of the `operators` query (PROTOCOL.md, operators). */
export const OPERATOR_ORDERS = Object.freeze(["id", "fee", "apr_7d", "apr_30d", "apr", "share", "performance_7d", "performance_30d", "performance"]);

/** Pause flags for `pause_set` (OR them together). */
export const PAUSE = Object.freeze({ deposits: 1, transfers: 2, withdrawals: 4 });

/** The ref fields of every kind (external_ref, payout_ref): shown as formatRef does. */
const REF_FIELDS = new Set(KINDS.flatMap((k) => k.fields.filter(([, t]) => t === "ref").map(([n]) => n)));

function camelToSnake(s) {
  return s.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** The kind descriptor for a wire name ("transfer_from") or its camelCase ("transferFrom"). */
export function kindInfo(name) {
  const k = KIND_BY_NAME.get(name) ?? KIND_BY_NAME.get(camelToSnake(String(name)));
  if (k === undefined) throw new ArgumentError("UNKNOWN_KIND", `unknown transaction kind: ${name}`);
  return k;
}

// ---- values ---------------------------------------------------------------------------------

const HEX_RE = /^[0-9a-fA-F]*$/;

export function toHex(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Bytes from hex (0x before it allowed). ArgumentError INVALID_BYTES unless hex of len bytes. */
export function fromHex(hex, len, what = "value") {
  const h = typeof hex === "string" && /^0[xX]/.test(hex) ? hex.slice(2) : hex;
  if (typeof h !== "string" || h.length % 2 !== 0 || !HEX_RE.test(h))
    throw new ArgumentError("INVALID_BYTES", `${what}: not a hex string`);
  const b = new Uint8Array(Buffer.from(h, "hex"));
  if (len !== undefined && b.length !== len)
    throw new ArgumentError("INVALID_BYTES", `${what}: expected ${len} bytes, got ${b.length}`);
  return b;
}

/** 32 (or `len`) bytes from a hex string or a Uint8Array (copied). */
export function toBytes(v, len, what = "value") {
  if (typeof v === "string") return fromHex(v, len, what);
  if (v instanceof Uint8Array) {
    if (v.length !== len) throw new ArgumentError("INVALID_BYTES", `${what}: expected ${len} bytes, got ${v.length}`);
    return new Uint8Array(v);
  }
  throw new ArgumentError("INVALID_BYTES", `${what}: expected a hex string or a Uint8Array`);
}

/**
 * An unsigned 64-bit value in base units from a bigint, a safe integer number or a string of
 * decimal digits (as lst --json prints them). ArgumentError INVALID_NUMBER or U64_OVERFLOW.
 */
export function toU64(v, what = "value") {
  let b;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new ArgumentError("INVALID_NUMBER", `${what}: ${v} is not a safe integer; use a bigint`);
    b = BigInt(v);
  } else if (typeof v === "string" && /^[0-9]+$/.test(v)) b = BigInt(v);
  else if (typeof v === "string" && /^[0-9]+\.[0-9]+$/.test(v))
    throw new ArgumentError("INVALID_NUMBER", `${what}: '${v}' has a decimal point: the API takes base units; convert tokens with parseUnits('${v}', client.decimals)`);
  else throw new ArgumentError("INVALID_NUMBER", `${what}: expected a bigint, a safe integer or a decimal string of base units`);
  if (b < 0n) throw new ArgumentError("INVALID_NUMBER", `${what}: ${b} is negative`);
  if (b > U64_MAX) throw new ArgumentError("U64_OVERFLOW", `${what}: ${b} exceeds u64 base units (${U64_MAX})`);
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
    throw new ArgumentError("INVALID_KEY", "secret key: not a valid secp256k1 secret key");
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
    throw new ArgumentError("INVALID_KEY", `key file ${path} has mode ${(mode & 0o7777).toString(8).padStart(4, "0")}: ` +
      `group or others can read it; run chmod 600 ${path}`);
  const dir = dirname(path), dmode = statSync(dir).mode;
  if ((dmode & 0o002) && !(dmode & 0o1000))
    throw new ArgumentError("INVALID_KEY", `key directory ${dir} is writable by others, who could replace ${path}; ` +
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
 * Normalize a transaction's fields for `kind`: keys and refs to Uint8Array(32) (refs from text
 * or 0x-hex, parseRef), integers to bigint base units. Field names may be the wire's
 * snake_case or camelCase; unknown, missing and doubled fields are ArgumentErrors.
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
      throw new ArgumentError("DUPLICATE_FIELD", `${k.name}: field ${name} given twice (also as ${camel})`);
    if (v === undefined) v = src[camel];
    if (v === undefined) throw new ArgumentError("MISSING_FIELD", `${k.name}: missing field ${name}`);
    if (type === "key" && v !== null && typeof v === "object" && v.publicKey instanceof Uint8Array) v = v.publicKey; // a Key
    const what = `${k.name}.${name}`;
    out[name] = type === "u64" ? toU64(v, what) : type === "ref" ? parseRef(v, what) : toBytes(v, 32, what);
  }
  for (const name of Object.keys(src))
    if (!known.has(name)) throw new ArgumentError("UNKNOWN_FIELD", `${k.name}: unknown field ${name}`);
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
  if (typeof ledgerId !== "string" || ledgerId.length === 0) throw new ArgumentError("INVALID_ARGUMENT", "ledgerId: expected a non-empty string");
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
  if (typeof v === "bigint") return toU64(v) <= U32_MAX ? Number(v) : v;
  if (typeof v === "number") {
    if (Number.isInteger(v)) return wireValue(toU64(v));
    throw new ArgumentError("INVALID_NUMBER", `not an integer: ${v}`);
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
  else throw new ArgumentError("INVALID_NUMBER", `${what}: expected a string of decimal digits, got ${typeof v}`);
  if (b > U128_MAX) throw new ArgumentError("INVALID_NUMBER", `${what}: ${b} is outside 0..2^128-1`);
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

/** A record (tx, history, events, a published event) with its ref fields shown as formatRef. */
export function convertRecord(rec) {
  if (rec === null || typeof rec !== "object" || rec.fields === null || typeof rec.fields !== "object") return rec;
  const fields = { ...rec.fields };
  for (const name of Object.keys(fields))
    if (REF_FIELDS.has(name) && typeof fields[name] === "string" && fields[name].length === 64) fields[name] = formatRef(fields[name]);
  return { ...rec, fields };
}

function convertWithdrawal(w) {
  return w !== null && typeof w === "object" && typeof w.payout_ref === "string" && w.payout_ref.length === 64
    ? { ...w, payout_ref: formatRef(w.payout_ref) }
    : w;
}

/**
 * A query result as the client returns it: 128-bit totals as bigint (U128_FIELDS), refs as
 * text or 0x-hex (formatRef) in records and withdrawals; other ops unchanged.
 */
export function decodeResult(op, result) {
  const r = convertU128(op, result);
  if (r === null || typeof r !== "object") return r;
  if (op === "tx") return convertRecord(r);
  if ((op === "history" || op === "events") && Array.isArray(r.records)) return { ...r, records: r.records.map(convertRecord) };
  if (op === "withdrawal") return convertWithdrawal(r);
  if (op === "account" && Array.isArray(r.withdrawals)) return { ...r, withdrawals: r.withdrawals.map(convertWithdrawal) };
  return r;
}
