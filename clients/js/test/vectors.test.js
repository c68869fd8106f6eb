// vectors.test.js - reproduce PROTOCOL.md's test vectors byte for byte: signing bytes, hash,
// BIP-340 signature (all-zero aux randomness) and the msgpack request, for every kind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import {
  KINDS, kindInfo, keyFromHex, signingBytes, txHash, sign, signTx, verify, encodeRequest,
  decodeReply, encodeMap, toHex, address, ArgumentError,
} from "../src/index.js";

const protocolPath = fileURLToPath(new URL("../../../PROTOCOL.md", import.meta.url));
const LEDGER = "lstd-vectors";
const ZERO_AUX = new Uint8Array(32);

/** The "Test vectors" section: [{kind, entries: Map(label -> value)}]. */
function parseVectors(text) {
  const start = text.indexOf("\n## Test vectors");
  assert.ok(start >= 0, "PROTOCOL.md has a Test vectors section");
  const section = text.slice(start);
  const end = section.indexOf("\n## ", 5);
  const body = end < 0 ? section : section.slice(0, end);
  const out = [];
  const re = /^### (\w+) \(kind (\d+)\)\s*\n+```\n([\s\S]*?)```/gm;
  let m;
  while ((m = re.exec(body)) !== null) {
    const entries = new Map();
    for (const line of m[3].split("\n")) {
      const lm = /^([a-z].*?)\s+(\S+)\s*$/.exec(line);
      if (lm) entries.set(lm[1].trim(), lm[2]);
    }
    out.push({ name: m[1], kind: Number(m[2]), entries });
  }
  return out;
}

const vectors = parseVectors(readFileSync(protocolPath, "utf8"));

test("PROTOCOL.md has a vector for every kind", () => {
  assert.deepEqual(vectors.map((v) => v.name), KINDS.map((k) => k.name));
  for (const v of vectors) assert.equal(v.kind, kindInfo(v.name).kind);
});

for (const v of vectors) {
  test(`vector ${v.name} (kind ${v.kind})`, () => {
    const e = v.entries;
    const key = keyFromHex(e.get("secret key"));
    assert.equal(key.address, e.get("signer"));
    assert.equal(address(key.publicKey), e.get("signer"));
    const fields = {};
    for (const [name, type] of kindInfo(v.name).fields) {
      assert.ok(e.has(name), `vector ${v.name} lists field ${name}`);
      const val = e.get(name);
      // keys are hex addresses; refs are text or 0x-hex (PROTOCOL.md, References)
      fields[name] = type === "u64" ? BigInt(val) : type === "ref" ? "0x" + val : val;
    }
    const tx = { kind: v.name, signer: e.get("signer"), nonce: BigInt(e.get("nonce")), fields };
    assert.equal(toHex(signingBytes(tx)), e.get("signing bytes"));
    const hash = txHash(LEDGER, tx);
    assert.equal(toHex(hash), e.get("hash"));
    const sig = sign(hash, key, ZERO_AUX);
    assert.equal(toHex(sig), e.get("signature"));
    assert.ok(verify(sig, hash, key.publicKey));

    const signed = signTx(LEDGER, key, v.name, tx.nonce, fields, { auxRand: ZERO_AUX });
    assert.equal(toHex(signed.hash), e.get("hash"));
    assert.equal(toHex(signed.sig), e.get("signature"));
    const req = encodeRequest(signed, { id: 1 });
    assert.equal(toHex(req), e.get("request"));

    // The request decodes back to the same map (u64 as bigint, bin as hex).
    const back = decodeReply(req);
    assert.equal(back.id, 1n);
    assert.equal(back.op, v.name);
    assert.equal(back.signer, e.get("signer"));
    assert.equal(back.sig, e.get("signature"));
    for (const [name, type] of kindInfo(v.name).fields)
      assert.equal(back[name], type === "u64" ? BigInt(e.get(name)) : e.get(name));
  });
}

test("camelCase kind and field names sign the same bytes", () => {
  const v = vectors.find((x) => x.name === "transfer_from");
  const e = v.entries;
  const key = keyFromHex(e.get("secret key"));
  const a = signTx(LEDGER, key, "transferFrom", 1, { owner: e.get("owner"), to: e.get("to"), shares: 1500000000 }, { auxRand: ZERO_AUX });
  assert.equal(toHex(a.sig), e.get("signature"));
  const d = vectors.find((x) => x.name === "deposit").entries;
  const b = signTx(LEDGER, key, "deposit", 1n, { to: d.get("to"), amount: "1500000000", externalRef: "0x" + d.get("external_ref"), minSharesOut: 42n }, { auxRand: ZERO_AUX });
  assert.equal(toHex(b.sig), d.get("signature"));
});

test("u64 values above 2^53 survive encode and decode exactly", () => {
  const big = (1n << 64n) - 1n;
  const vals = [0n, 127n, 128n, 255n, 256n, 65535n, 65536n, 0xffffffffn, 0x100000000n, (1n << 53n) + 1n, 1n << 60n, big];
  const bytes = encodeMap({ values: vals });
  const back = decodeReply(bytes);
  assert.deepEqual(back.values, vals);
  // smallest widths: fixint, uint8, uint16, uint32, uint64
  assert.equal(toHex(encodeMap({ a: 1n << 60n })), "81a161cf1000000000000000");
  assert.equal(toHex(encodeMap({ a: 0x100000000n })), "81a161cf0000000100000000");
  assert.equal(toHex(encodeMap({ a: 0xffffffffn })), "81a161ceffffffff");
  assert.throws(() => encodeMap({ a: big + 1n }), (e) => e instanceof ArgumentError && e.code === "U64_OVERFLOW");
  assert.throws(() => encodeMap({ a: -1n }), (e) => e instanceof ArgumentError && e.code === "INVALID_NUMBER");
});

test("bad inputs are refused before anything is signed", () => {
  const key = keyFromHex("01".repeat(32));
  const arg = (code, re) => (e) => e instanceof ArgumentError && e.code === code && re.test(e.message);
  assert.throws(() => signTx(LEDGER, key, "transfer", 1, { to: "00".repeat(31), shares: 1 }), arg("INVALID_BYTES", /expected 32 bytes/));
  assert.throws(() => signTx(LEDGER, key, "transfer", 1, { to: "00".repeat(32) }), arg("MISSING_FIELD", /missing field shares/));
  assert.throws(() => signTx(LEDGER, key, "transfer", 1, { to: "00".repeat(32), shares: 1, extra: 2 }), arg("UNKNOWN_FIELD", /unknown field extra/));
  assert.throws(() => signTx(LEDGER, key, "transfer", 1, { to: "00".repeat(32), shares: 2 ** 60 }), arg("INVALID_NUMBER", /safe integer/));
  assert.throws(() => signTx(LEDGER, key, "transfer", 1, { to: "00".repeat(32), shares: "1.5" }), arg("INVALID_NUMBER", /parseUnits/));
  assert.throws(() => signTx(LEDGER, key, "transfer", 1, { to: "00".repeat(32), shares: 1n << 64n }), arg("U64_OVERFLOW", /exceeds u64 base units \(18446744073709551615\)/));
  assert.throws(() => signTx(LEDGER, key, "nope", 1, {}), arg("UNKNOWN_KIND", /unknown transaction kind/));
  assert.throws(() => keyFromHex("00".repeat(32)), arg("INVALID_KEY", /not a valid/));
  assert.throws(() => signTx(LEDGER, key, "withdraw_settle", 1, { request_id: 1, payout_ref: "ab".repeat(32) }), arg("INVALID_REF", /write 0x/));
});
