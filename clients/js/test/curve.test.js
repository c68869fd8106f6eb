// curve.test.js - the client over CurveZMQ against a real lstd with curve_secret_key
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { curveKeyPair } from "zeromq";

import {
  Client, LstdError, loadKeyFile, loadCurvePublicKey, loadCurveSecretKey, z85Decode, z85Encode,
  curveKey, toHex,
} from "../src/index.js";

import { startServer, rejects } from "./server.js";

const T = { timeout: 60000 };

describe("Z85 keys", () => {
  it("encodes and decodes as ZeroMQ does", () => {
    const { publicKey } = curveKeyPair();
    const bytes = z85Decode(publicKey);
    assert.equal(bytes.length, 32);
    assert.equal(z85Encode(bytes), publicKey);
    assert.equal(curveKey(toHex(bytes)), publicKey);
    assert.equal(curveKey(bytes), publicKey);
    assert.throws(() => z85Decode("x".repeat(39)), TypeError);
    assert.throws(() => z85Decode(" ".repeat(40)), TypeError);
    assert.throws(() => curveKey("abc"), TypeError);
  });
});

describe("live lstd over CURVE", { timeout: 120000 }, () => {
  let srv, dir;
  const server = curveKeyPair(), allowed = curveKeyPair(), other = curveKeyPair();

  before(async () => {
    // the key files as `lst curve-keygen` writes them: a comment line, then the key
    dir = mkdtempSync(join(tmpdir(), "lstd-js-curve-"));
    const secret = join(dir, "server.secret");
    writeFileSync(secret, `# lstd CURVE secret key\n${server.secretKey}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "server.public"), `# lstd CURVE public key\n${server.publicKey}\n`);
    writeFileSync(join(dir, "client.secret"), `# lstd CURVE secret key\n${allowed.secretKey}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "clients"), `# allowed\n${allowed.publicKey}  # the test client\n`);
    srv = await startServer(["--curve-secret-key", secret, "--curve-clients", join(dir, "clients")]);
  });

  after(async () => {
    if (srv) await srv.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("an allowed key gets replies and events; the key files load", T, async () => {
    const curve = {
      serverKey: loadCurvePublicKey(join(dir, "server.public")),
      publicKey: allowed.publicKey,
      secretKey: loadCurveSecretKey(join(dir, "client.secret")),
    };
    assert.equal(curve.serverKey, server.publicKey);
    assert.equal(curve.secretKey, allowed.secretKey);
    const c = await Client.connect({ endpoint: srv.requests, events: srv.events, timeoutMs: 15000, curve });
    try {
      const h = await c.health();
      assert.equal(h.status, "ok");
      assert.equal(h.counters.auth_failures, 0n);
      const cust = loadKeyFile(srv.keyPath("custodian"));
      const head = (await c.pool()).seq;
      const sub = c.subscribe({ after: head });
      // the SUB is through its handshake once the server holds its subscription
      for (let i = 0; i < 500 && (await c.health()).subscriptions < 1n; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok((await c.health()).subscriptions >= 1n);
      const r = await c.deposit(cust, { to: cust.address, amount: 5n * 10n ** 9n, external_ref: "0x" + "11".repeat(32) });
      const { value } = await sub.next();
      assert.equal(value.seq, r.seq);
      assert.equal(value.hash, r.hash);
      sub.close();
    } finally {
      c.close();
    }
  });

  it("refuses a client without CURVE and a key not in the list", T, async () => {
    await rejects(Client.connect({ endpoint: srv.requests, timeoutMs: 500, retries: 0 }), "TIMEOUT");
    const curve = { serverKey: server.publicKey, publicKey: other.publicKey, secretKey: other.secretKey };
    await rejects(Client.connect({ endpoint: srv.requests, timeoutMs: 500, retries: 0, curve }), "TIMEOUT");
    assert.throws(() => new Client({ endpoint: srv.requests, curve: { serverKey: "short" } }), TypeError);
    const c = await Client.connect({
      endpoint: srv.requests, timeoutMs: 15000,
      curve: { serverKey: server.publicKey, publicKey: allowed.publicKey, secretKey: allowed.secretKey },
    });
    try {
      const h = await c.health();
      assert.ok(h.counters.auth_failures >= 1n, "the refused key is counted");
      assert.ok(h.counters.protocol_drops >= 2n);
    } finally {
      c.close();
    }
  });

  it("refuses a secret key file others may read", () => {
    const p = join(dir, "loose.secret");
    writeFileSync(p, `${other.secretKey}\n`);
    chmodSync(p, 0o644);
    assert.throws(() => loadCurveSecretKey(p), /chmod 600/);
  });
});
