// bad_out.ts - a misspelt output name must not compile (test/types.test.js)
import { Client, generateKey } from "lstd-client";
export async function f(c: Client): Promise<bigint> {
  const k = generateKey();
  const r = await c.transfer(k, { to: k, shares: 1n });
  if (!r.ok) return 0n;
  return r.out.share_movedd;
}
