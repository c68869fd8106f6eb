// types.test.js - index.d.ts under `tsc --strict`: a correct usage file compiles, and each
// misspelling the issue names (an output, an error name, an error code) is a compile error
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const tsc = require.resolve("typescript/bin/tsc");
const root = fileURLToPath(new URL("..", import.meta.url));
const FLAGS = ["--strict", "--noEmit", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--skipLibCheck", "false"];

/** Run tsc on one file of test/types; resolves with {code, out}. */
function compile(file) {
  return new Promise((resolve) => {
    execFile(process.execPath, [tsc, ...FLAGS, `test/types/${file}`], { cwd: root, timeout: 120000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code ?? 1 : 0, out: stdout + stderr });
    });
  });
}

const T = { timeout: 180000 };

test("tsc --strict accepts the correct usage (and index.d.ts itself, generated part included)", T, async () => {
  const r = await compile("good.ts");
  assert.equal(r.code, 0, r.out);
});

for (const [file, name, why] of [
  ["bad_out.ts", "share_movedd", /TS2551|TS2339/],
  ["bad_error.ts", "INSUFICIENT_SHARES", /TS2367/],
  ["bad_code.ts", "NONCE_GAPP", /TS2367/],
]) {
  test(`tsc --strict rejects ${name} (${file})`, T, async () => {
    const r = await compile(file);
    assert.notEqual(r.code, 0, `${file} compiled`);
    assert.match(r.out, why, r.out);
    assert.ok(r.out.includes(name), r.out);
    assert.equal((r.out.match(/error TS/g) ?? []).length, 1, `exactly the one error: ${r.out}`);
  });
}
