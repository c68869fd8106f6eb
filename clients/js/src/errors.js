// errors.js - the one error class the client rejects with

/**
 * A failure answered by lstd (`code` is the stable error name from PROTOCOL.md, e.g.
 * "NONCE_GAP", "NOT_FOUND") or detected by the client ("TIMEOUT", "CLOSED", "PROTOCOL").
 */
export class LstdError extends Error {
  /**
   * @param {string} code stable error name
   * @param {string} [message] human explanation (not stable)
   * @param {{reply?: object, op?: string, hash?: string}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message ? `${code}: ${message}` : code);
    this.name = "LstdError";
    this.code = code;
    /** The decoded reply map when the server answered. */
    this.reply = extra.reply;
    /** The request's op. */
    this.op = extra.op;
    /** For transactions: the transaction hash (hex). */
    this.hash = extra.hash;
  }
}
