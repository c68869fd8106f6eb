// lstd-client - JavaScript client for the lstd ledger service (PROTOCOL.md)
export {
  KINDS, PARAMS, ROLES, PAUSE, U64_MAX,
  kindInfo, normalizeFields, toHex, fromHex, toBytes, toU64,
  generateKey, keyFromHex, loadKeyFile, address,
  signingBytes, taggedHash, txHash, sign, verify, signTx,
  encodeMap, encodeRequest, decodeReply,
} from "./codec.js";
export { LstdError } from "./errors.js";
export { Client, Subscription } from "./client.js";
