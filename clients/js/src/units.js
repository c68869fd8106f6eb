// units.js - base units and tokens (PROTOCOL.md, "Units"), 32-byte references as text or hex
//
// The client takes and returns base units (bigint) everywhere; parseUnits/formatUnits convert
// to and from tokens of the pool's decimals, exactly (no floating point anywhere).

import { ArgumentError } from "./errors.js";

export const U64_MAX = (1n << 64n) - 1n;

function checkDecimals(decimals) {
  const d = typeof decimals === "bigint" ? Number(decimals) : decimals;
  if (!Number.isSafeInteger(d) || d < 0 || d > 255)
    throw new ArgumentError("INVALID_ARGUMENT", `decimals: expected an integer 0..255, got ${decimals}`);
  return d;
}

/**
 * Tokens as a decimal string ("1.5", "100", "0.000000001") to base units: 1.5 with 9 decimals
 * is 1500000000n. Exact: more fractional digits than `decimals` is TOO_MANY_DECIMALS (never
 * rounded), a result above 2^64 - 1 is U64_OVERFLOW, anything but digits with an optional
 * point and digits is INVALID_NUMBER (ArgumentError each).
 * @param {string} text
 * @param {number|bigint} decimals the pool's decimals (client.decimals)
 * @returns {bigint}
 */
export function parseUnits(text, decimals) {
  const d = checkDecimals(decimals);
  if (typeof text !== "string" || !/^[0-9]+(\.[0-9]+)?$/.test(text))
    throw new ArgumentError("INVALID_NUMBER", `'${String(text)}' is not a decimal number of tokens (1.5, 100, 0.000000001)`);
  const [whole, frac = ""] = text.split(".");
  if (frac.length > d)
    throw new ArgumentError("TOO_MANY_DECIMALS", `'${text}' has more than ${d} decimals (the pool's decimals)`);
  const units = BigInt(whole) * 10n ** BigInt(d) + BigInt(frac.padEnd(d, "0") || "0");
  if (units > U64_MAX)
    throw new ArgumentError("U64_OVERFLOW", `'${text}' exceeds u64 base units (${U64_MAX})`);
  return units;
}

/**
 * Base units to tokens as an exact decimal string without trailing zeros ("1.5", "2",
 * "0.000000001"). Takes any non-negative integer (the 128-bit totals too).
 * @param {bigint|number|string} units
 * @param {number|bigint} decimals
 * @returns {string}
 */
export function formatUnits(units, decimals) {
  const d = checkDecimals(decimals);
  let v;
  if (typeof units === "bigint") v = units;
  else if (typeof units === "number" && Number.isSafeInteger(units)) v = BigInt(units);
  else if (typeof units === "string" && /^[0-9]+$/.test(units)) v = BigInt(units);
  else throw new ArgumentError("INVALID_NUMBER", `formatUnits: ${String(units)} is not an integer of base units`);
  if (v < 0n) throw new ArgumentError("INVALID_NUMBER", `formatUnits: ${v} is negative`);
  const p = 10n ** BigInt(d);
  const frac = (v % p).toString().padStart(d, "0").replace(/0+$/, "");
  return frac === "" ? (v / p).toString() : `${v / p}.${frac}`;
}

// ---- references -----------------------------------------------------------------------------

const REF_HEX_RE = /^0[xX][0-9a-fA-F]{64}$/;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/** A printable code point: no C0 or C1 control character, no DEL, no lone surrogate. */
function printable(cp) {
  return cp >= 0x20 && cp !== 0x7f && !(cp >= 0x80 && cp <= 0x9f) && !(cp >= 0xd800 && cp <= 0xdfff);
}

function printableText(s) {
  for (const ch of s) if (!printable(ch.codePointAt(0))) return false;
  return true;
}

/**
 * A 32-byte reference (external_ref, payout_ref) from what a person writes: "0x" and exactly
 * 64 hex digits are the raw bytes; any other string is UTF-8 text of 1 to 32 bytes, printable,
 * zero-padded to 32 ("bank-transfer-0001"); a Uint8Array must hold 32 bytes. 64 hex digits
 * without 0x are refused (they would be 64 bytes of text). ArgumentError INVALID_REF otherwise.
 * @param {string|Uint8Array} v
 * @param {string} [what]
 * @returns {Uint8Array}
 */
export function parseRef(v, what = "ref") {
  if (v instanceof Uint8Array) {
    if (v.length !== 32) throw new ArgumentError("INVALID_REF", `${what}: expected 32 bytes, got ${v.length}`);
    return new Uint8Array(v);
  }
  if (typeof v !== "string") throw new ArgumentError("INVALID_REF", `${what}: expected text, 0x and 64 hex digits, or a Uint8Array`);
  if (REF_HEX_RE.test(v)) return new Uint8Array(Buffer.from(v.slice(2), "hex"));
  if (/^[0-9a-fA-F]{64}$/.test(v))
    throw new ArgumentError("INVALID_REF", `${what}: 64 hex digits are 64 bytes of text, more than a ref holds: write 0x and the 64 hex digits for 32 raw bytes`);
  if (v.length === 0) throw new ArgumentError("INVALID_REF", `${what}: an empty ref: a text ref has 1 to 32 bytes`);
  if (!printableText(v))
    throw new ArgumentError("INVALID_REF", `${what}: a text ref is printable UTF-8 (no control characters): write 0x and 64 hex digits for other bytes`);
  const b = utf8.encode(v);
  if (b.length > 32) throw new ArgumentError("INVALID_REF", `${what}: ${b.length} bytes of text: a text ref holds at most 32 bytes`);
  const out = new Uint8Array(32);
  out.set(b);
  return out;
}

/**
 * A reference as it came in: its text when the 32 bytes are printable UTF-8 followed only by
 * zero padding (at least one byte of text), else "0x" and 64 lowercase hex digits. parseRef
 * reads it back to the same bytes.
 * @param {Uint8Array|string} ref 32 bytes, or 64 hex digits as replies carry them
 * @returns {string}
 */
export function formatRef(ref) {
  const b = typeof ref === "string" ? new Uint8Array(Buffer.from(ref.replace(/^0[xX]/, ""), "hex")) : ref;
  if (!(b instanceof Uint8Array) || b.length !== 32) throw new ArgumentError("INVALID_REF", "formatRef: expected 32 bytes");
  let n = 32;
  while (n > 0 && b[n - 1] === 0) n--;
  if (n > 0) {
    try {
      const text = utf8Strict.decode(b.subarray(0, n));
      if (printableText(text)) return text;
    } catch {
      // not UTF-8: hex
    }
  }
  return "0x" + Buffer.from(b).toString("hex");
}
