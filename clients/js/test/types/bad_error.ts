// bad_error.ts - a misspelt error name in a result must not compile (test/types.test.js)
import { Client, generateKey } from "lstd-client";
export async function f(c: Client): Promise<boolean> {
  const k = generateKey();
  const r = await c.transfer(k, { to: k, shares: 1n });
  return r.error === "INSUFICIENT_SHARES";
}
