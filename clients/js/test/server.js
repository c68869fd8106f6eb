// server.js - start and stop a real lstd for the live tests (like tests/rpc_harness.c)
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { LstdError, encodeMap, decodeReply } from "../src/index.js";

const READY_TIMEOUT_MS = 30000;
const running = new Set();

// Never leave a server behind, whatever happens to the test process.
process.on("exit", () => {
  for (const s of running) s.kill("SIGKILL");
});

/** The promise rejects with an LstdError of this code. Returns: the error. */
export async function rejects(promise, code) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof LstdError, `expected LstdError ${code}, got ${err}`);
  assert.equal(err.code, code);
  return err;
}

/**
 * A fake lstd ROUTER. `handle(req, ctx)` returns a reply map or undefined to stay silent;
 * `ctx.send(map)` answers later, `ctx.seen` lists every request received ({req, raw});
 * `accepted` counts the connections it accepted.
 */
export async function fakeServer(handle) {
  const router = new zmq.Router({ linger: 0 });
  await router.bind("tcp://127.0.0.1:*");
  const seen = [];
  const state = { accepted: 0 };
  router.events.on("accept", () => state.accepted++);
  const loop = (async () => {
    try {
      for await (const [peer, raw] of router) {
        const req = decodeReply(raw);
        seen.push({ req, raw: Buffer.from(raw) });
        const send = (map) => router.send([peer, encodeMap(map)]);
        const reply = req.op === "pool"
          ? { id: req.id, ok: true, result: { ledger_id: "fake", seq: 0 } }
          : await handle(req, { send, seen });
        if (reply !== undefined) await send(reply);
      }
    } catch {
      // closed
    }
  })();
  return {
    endpoint: router.lastEndpoint,
    seen,
    get accepted() {
      return state.accepted;
    },
    async close() {
      router.close();
      await loop;
    },
  };
}

export function lstdBinary() {
  const env = process.env.LSTD_BINARY;
  return env ? resolve(env) : fileURLToPath(new URL("../../../build/lstd", import.meta.url));
}

/**
 * Start lstd on a fresh data directory with port-* endpoints.
 * @returns {Promise<LstdServer>}
 */
export async function startServer(extraArgs = []) {
  const bin = lstdBinary();
  if (!existsSync(bin))
    throw new Error(`lstd binary not found at ${bin}: build it (tools/setup.sh build) or set LSTD_BINARY`);
  const dir = mkdtempSync(join(tmpdir(), "lstd-js-"));
  const s = new LstdServer(bin, dir);
  await s.launch(extraArgs);
  return s;
}

export class LstdServer {
  constructor(bin, dir) {
    this.bin = bin;
    this.dir = dir;
    this.dataDir = join(dir, "data");
    this.proc = undefined;
    this.requests = undefined;
    this.events = undefined;
    this.stderr = "";
    this.exit = undefined; // {code, signal} once exited
  }

  launch(extraArgs) {
    const args = ["--data", this.dataDir, "--endpoint", "tcp://127.0.0.1:*", "--events", "tcp://127.0.0.1:*", "--metrics", "127.0.0.1:0", "--durability", "nosync", "--dev", ...extraArgs];
    const proc = spawn(this.bin, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    this.proc = proc;
    running.add(this);
    this.exited = new Promise((res) => {
      proc.on("exit", (code, signal) => {
        running.delete(this);
        this.exit = { code, signal };
        res(this.exit);
      });
    });
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (d) => {
      if (this.stderr.length < 65536) this.stderr += d;
    });
    return new Promise((res, rej) => {
      let out = "";
      let settled = false;
      const timer = setTimeout(() => fail(new Error(`lstd printed no ready line within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      const fail = (e) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.kill("SIGKILL");
        rej(new Error(`${e.message}\nstdout:\n${out}\nstderr:\n${this.stderr}`));
      };
      proc.on("error", fail);
      proc.on("exit", (code, signal) => fail(new Error(`lstd exited before ready (code ${code}, signal ${signal})`)));
      proc.stdout.setEncoding("utf8");
      proc.stdout.on("data", (d) => {
        if (settled) return; // keep draining, nothing more is expected
        out += d;
        const m = /^lstd: ready requests=(\S+) events=(\S+)(?: metrics=\S+)?$/m.exec(out);
        if (m && !settled) {
          settled = true;
          clearTimeout(timer);
          this.requests = m[1];
          this.events = m[2];
          res(this);
        }
      });
    });
  }

  keyPath(role) {
    return join(this.dataDir, "keys", `${role}.key`);
  }

  /** Signal the whole process group (lstd runs in its own). */
  kill(sig) {
    if (this.proc === undefined || this.exit !== undefined) return;
    try {
      process.kill(-this.proc.pid, sig);
    } catch {
      try {
        this.proc.kill(sig);
      } catch {
        // gone
      }
    }
  }

  /** SIGTERM and wait; resolves with {code, signal}. SIGKILL after timeoutMs. */
  async stop(timeoutMs = 15000) {
    if (this.exit !== undefined) return this.exit;
    this.kill("SIGTERM");
    let timer;
    const t = new Promise((res) => {
      timer = setTimeout(() => res("timeout"), timeoutMs);
    });
    const r = await Promise.race([this.exited, t]);
    clearTimeout(timer);
    if (r === "timeout") {
      this.kill("SIGKILL");
      await this.exited;
      return { code: null, signal: "SIGKILL", timedOut: true };
    }
    return r;
  }

  /** Kill if still running and remove the data directory. */
  async cleanup() {
    if (this.exit === undefined && this.proc !== undefined) {
      this.kill("SIGKILL");
      await this.exited;
    }
    if (!process.env.LSTD_KEEP_TMP) rmSync(this.dir, { recursive: true, force: true });
  }
}
