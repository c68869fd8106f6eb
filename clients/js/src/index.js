// lstd-client - JavaScript client for the lstd ledger service (PROTOCOL.md)
export {
  KINDS, PARAMS, ROLES, PAUSE, REPORT_MODES, OPERATOR_ORDERS, U64_MAX, U128_MAX, U128_FIELDS,
  kindInfo, normalizeFields, toHex, fromHex, toBytes, toU64,
  generateKey, keyFromHex, loadKeyFile, address,
  signingBytes, taggedHash, txHash, sign, verify, signTx,
  encodeMap, encodeRequest, decodeReply, decodeResult, convertRecord, fromU128, convertU128,
} from "./codec.js";
export { parseUnits, formatUnits, parseRef, formatRef } from "./units.js";
export { ERRORS, QUERIES } from "./tables.js";
export { LstdError, RecordedError, RejectedError, TransportError, ArgumentError } from "./errors.js";
export { Client, Subscription, expectOk } from "./client.js";
export { z85Encode, z85Decode, curveKey, loadCurvePublicKey, loadCurveSecretKey } from "./curve.js";
