// units.test.js - parseUnits/formatUnits, and every row of tests/ref_cases.tsv (the table the C
// library's test_units reads too): one reference encoding in C and JS
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { parseUnits, formatUnits, parseRef, formatRef, ArgumentError, U64_MAX } from "../src/index.js";

const arg = (code, re) => (e) => e instanceof ArgumentError && e.code === code && (re === undefined || re.test(e.message));

test("parseUnits: tokens to base units, exact", () => {
  assert.equal(parseUnits("1.5", 9), 1_500_000_000n);
  assert.equal(parseUnits("100", 9), 100_000_000_000n);
  assert.equal(parseUnits("0.000000001", 9), 1n);
  assert.equal(parseUnits("18446744073.709551615", 9), U64_MAX);
  assert.equal(parseUnits("7", 0), 7n);
  assert.equal(parseUnits("1.8446744073709551615", 19), U64_MAX);
  assert.equal(parseUnits("1.5", 9n), 1_500_000_000n);
  assert.throws(() => parseUnits("1.0000000001", 9), arg("TOO_MANY_DECIMALS", /more than 9 decimals/));
  assert.throws(() => parseUnits("18446744073.709551616", 9), arg("U64_OVERFLOW", /exceeds u64 base units \(18446744073709551615\)/));
  assert.throws(() => parseUnits("20000000000", 9), arg("U64_OVERFLOW"));
  for (const bad of ["", ".5", "1.", "-1", "+1", "1e9", " 1", "1,5", "0x10", "1.5tok", "1_000"])
    assert.throws(() => parseUnits(bad, 9), arg("INVALID_NUMBER"), bad);
  assert.throws(() => parseUnits(15, 9), arg("INVALID_NUMBER"));
  assert.throws(() => parseUnits("1", -1), arg("INVALID_ARGUMENT"));
  assert.throws(() => parseUnits("1", 1.5), arg("INVALID_ARGUMENT"));
});

test("formatUnits: base units to tokens, exact, no trailing zeros", () => {
  assert.equal(formatUnits(1_500_000_000n, 9), "1.5");
  assert.equal(formatUnits(2_000_000_000n, 9), "2");
  assert.equal(formatUnits(0n, 9), "0");
  assert.equal(formatUnits(1n, 9), "0.000000001");
  assert.equal(formatUnits(U64_MAX, 9), "18446744073.709551615");
  assert.equal(formatUnits((1n << 128n) - 1n, 0), "340282366920938463463374607431768211455");
  assert.equal(formatUnits("42", 0), "42");
  assert.equal(formatUnits(42, 2), "0.42");
  assert.throws(() => formatUnits(-1n, 9), arg("INVALID_NUMBER"));
  assert.throws(() => formatUnits(1.5, 9), arg("INVALID_NUMBER"));
  for (const v of [0n, 1n, 999n, 1_000_000_000n, 123_456_789_012n, U64_MAX]) assert.equal(parseUnits(formatUnits(v, 9), 9), v);
});

/** The table's escapes: \xNN is a byte, \\ a backslash (as test_units.c decodes them). */
function unescape(s) {
  const bytes = [];
  for (let i = 0; i < s.length;) {
    if (s[i] === "\\" && s[i + 1] === "\\") {
      bytes.push(0x5c);
      i += 2;
    } else if (s[i] === "\\" && s[i + 1] === "x") {
      bytes.push(parseInt(s.slice(i + 2, i + 4), 16));
      i += 4;
    } else {
      const cp = s.codePointAt(i);
      const ch = String.fromCodePoint(cp);
      bytes.push(...Buffer.from(ch, "utf8"));
      i += ch.length;
    }
  }
  return Buffer.from(bytes);
}

const table = readFileSync(fileURLToPath(new URL("../../../tests/ref_cases.tsv", import.meta.url)), "utf8")
  .split("\n").map((line, i) => [line, i + 1]).filter(([l]) => l !== "" && !l.startsWith("#"));

test("tests/ref_cases.tsv: every parse row", () => {
  let n = 0;
  for (const [line, no] of table) {
    const [op, a, b] = line.split("\t");
    if (op !== "parse") continue;
    n++;
    const raw = unescape(a);
    const where = `ref_cases.tsv:${no} '${a}'`;
    let input;
    try {
      input = new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      // bytes that are not well-formed UTF-8 cannot be a JS string: the row wants them
      // refused as text, and as 32 padded bytes they show as 0x-hex, never as text
      assert.equal(b, "error", where);
      const padded = new Uint8Array(32);
      padded.set(raw.subarray(0, 32));
      assert.match(formatRef(padded), /^0x[0-9a-f]{64}$/, where);
      continue;
    }
    if (b === "error") {
      assert.throws(() => parseRef(input), arg("INVALID_REF"), where);
      continue;
    }
    assert.equal(Buffer.from(parseRef(input)).toString("hex"), b, where);
    if (!/^0[xX][0-9a-fA-F]{64}$/.test(input)) assert.equal(formatRef(parseRef(input)), input, `${where} shows back`);
  }
  assert.ok(n >= 20);
});

test("tests/ref_cases.tsv: every show row", () => {
  let n = 0;
  for (const [line, no] of table) {
    const [op, a, b] = line.split("\t");
    if (op !== "show") continue;
    n++;
    const want = unescape(b).toString("utf8");
    assert.equal(formatRef(a), want, `ref_cases.tsv:${no}`);
    assert.equal(formatRef(new Uint8Array(Buffer.from(a, "hex"))), want);
    assert.equal(Buffer.from(parseRef(want)).toString("hex"), a, `ref_cases.tsv:${no} parses back`);
  }
  assert.ok(n >= 10);
});

test("parseRef: bytes, the hint for bare hex, lone surrogates", () => {
  assert.deepEqual(parseRef(new Uint8Array(32).fill(7)), new Uint8Array(32).fill(7));
  assert.throws(() => parseRef(new Uint8Array(31)), arg("INVALID_REF", /32 bytes/));
  assert.throws(() => parseRef("ab".repeat(32)), arg("INVALID_REF", /write 0x and the 64 hex digits/));
  assert.throws(() => parseRef("a\uD800b"), arg("INVALID_REF", /printable UTF-8/));
  assert.throws(() => parseRef(5), arg("INVALID_REF"));
});
