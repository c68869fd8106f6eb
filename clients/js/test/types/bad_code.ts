// bad_code.ts - a misspelt error code must not compile (test/types.test.js)
import { LstdError } from "lstd-client";
export function f(e: unknown): boolean {
  return e instanceof LstdError && e.code === "NONCE_GAPP";
}
