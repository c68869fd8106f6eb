// errors.js - the one error hierarchy: every failure the client reports is an LstdError
//
//   LstdError                 code (a stable name), recorded, seq, request, reply, op, hash
//   ├─ RecordedError          a rule violation the ledger recorded: nonce consumed, seq set
//   ├─ RejectedError          the server answered an error and recorded nothing (request codes,
//   │                         BUSY after the resends, NONCE_GAP, NOT_FOUND, ...): retry after
//   │                         fixing the cause
//   ├─ TransportError         no answer: TIMEOUT, NOT_LISTENING, DISCONNECTED, CLOSED, PROTOCOL
//   └─ ArgumentError          bad input caught before anything was sent (INVALID_NUMBER,
//                             TOO_MANY_DECIMALS, U64_OVERFLOW, INVALID_REF, ...)

/**
 * A failure of an lstd request, or of its arguments. `code` is the stable name: one of
 * PROTOCOL.md's error names when the server answered, or the client's own (TransportError,
 * ArgumentError codes).
 */
export class LstdError extends Error {
  /**
   * @param {string} code stable error name
   * @param {string} [message] human explanation (not stable)
   * @param {{recorded?: boolean, seq?: bigint, request?: object, reply?: object, op?: string, hash?: string, result?: object, leader?: string|null, cause?: unknown}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message ? `${code}: ${message}` : code, extra.cause !== undefined ? { cause: extra.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    /** True only for a RecordedError: in the history, its nonce consumed. */
    this.recorded = extra.recorded === true;
    /** Where it was recorded (RecordedError), else undefined. */
    this.seq = extra.seq;
    /** What was sent: the request map (bytes as hex, integers as bigint), when there was one. */
    this.request = extra.request;
    /** The decoded reply map, when the server answered. */
    this.reply = extra.reply;
    /** The request's op. */
    this.op = extra.op ?? extra.request?.op;
    /** For transactions: the transaction hash (hex): `client.tx(hash)` tells whether it landed. */
    this.hash = extra.hash;
    /** RecordedError: the whole result (as submit() resolves with it). */
    this.result = extra.result;
    /** NOT_LEADER (a RejectedError): the leader the last replica named, null when none. */
    if (extra.leader !== undefined) this.leader = extra.leader;
  }
}

/** A transaction the ledger recorded as a rule violation (INSUFFICIENT_SHARES, ...). */
export class RecordedError extends LstdError {}

/** An error answer from the server that recorded nothing (no nonce consumed). */
export class RejectedError extends LstdError {}

/** The request got no usable answer: TIMEOUT, NOT_LISTENING, DISCONNECTED, CLOSED, PROTOCOL. */
export class TransportError extends LstdError {}

/** An argument the client refused before sending anything. */
export class ArgumentError extends LstdError {}
