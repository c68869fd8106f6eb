// Type declarations for lstd-client (hand-written; the package is plain ES2020 JavaScript).
//
// Conventions: every integer in a reply is a bigint (u64 values keep full precision; the
// 128-bit totals, which the server sends as decimal strings, are converted to bigint by the
// query methods); every msgpack bin (keys, hashes, refs, signatures) is a lowercase hex
// string. Inputs accept a bigint, a safe-integer number or a decimal string for integers, and
// hex or a Uint8Array for 32-byte values.

/** Lowercase hex. */
export type Hex = string;
/** An unsigned 64-bit integer input. */
export type U64Like = bigint | number | string;
/** 32 bytes: hex or Uint8Array. */
export type Bytes32 = Hex | Uint8Array;
/** An account: a Key, its x-only public key (Uint8Array) or its hex address. */
export type AccountLike = Key | Bytes32;

export interface Key {
  readonly secretKey: Uint8Array;
  /** 32-byte x-only public key. */
  readonly publicKey: Uint8Array;
  /** Lowercase hex of publicKey. */
  readonly address: Hex;
}

export type KindName =
  | "deposit" | "transfer" | "approve" | "transfer_from" | "lock" | "release" | "seize"
  | "withdraw_request" | "withdraw_cancel" | "withdraw_finalize" | "withdraw_settle"
  | "operator_fund" | "operator_exit" | "report" | "report_accept" | "operator_register"
  | "operator_set_active" | "operator_set_keys" | "fee_set" | "param_set" | "pause_set" | "role_set"
  | "operator_reset";

export interface KindInfo {
  readonly kind: number;
  readonly name: KindName;
  /** [field name, "key" | "ref" | "u64"] in signing order. */
  readonly fields: ReadonlyArray<readonly [string, "key" | "ref" | "u64"]>;
  /** Names of the delivered amounts in `out`. */
  readonly outputs: ReadonlyArray<string>;
}

export const KINDS: ReadonlyArray<KindInfo>;
export const PARAMS: Readonly<{
  STAKE_LIMIT_MAX: 1; STAKE_LIMIT_REFILL: 2; MAX_APR_BPS: 3; MAX_DROP_BPS: 4;
  OPERATOR_CAP_BPS: 5; FEE_DELAY_S: 6; EPOCH_S: 7; VEST_S: 8;
}>;
export const ROLES: Readonly<{ admin: 1; custodian: 2; treasury: 3 }>;
export const PAUSE: Readonly<{ deposits: 1; transfers: 2; withdrawals: 4 }>;
/** quorum_set's mode: who books validator balances. */
export const REPORT_MODES: Readonly<{ operator: 1; committee: 2 }>;
/** The operators query's orders. */
export type OperatorOrder =
  | "id" | "fee" | "apr_7d" | "apr_30d" | "apr" | "share" | "performance_7d" | "performance_30d" | "performance";
export const OPERATOR_ORDERS: ReadonlyArray<OperatorOrder>;
export const U64_MAX: bigint;
export const U128_MAX: bigint;
/** The 128-bit totals of each query's result, sent as decimal strings. */
export const U128_FIELDS: Readonly<{
  pool: ReadonlyArray<"payable" | "total_deposited" | "total_rewards" | "total_slashed" | "total_paid">;
  operator: ReadonlyArray<"funded_since" | "exited_since" | "fees_earned">;
  queue: ReadonlyArray<"pending_amount" | "payable">;
}>;

/** Kind descriptor by wire name ("transfer_from") or camelCase ("transferFrom"). */
export function kindInfo(name: string): KindInfo;
export function normalizeFields(kind: string, fields: Record<string, unknown>): Record<string, bigint | Uint8Array>;
export function toHex(bytes: Uint8Array): Hex;
export function fromHex(hex: string, len?: number, what?: string): Uint8Array;
export function toBytes(v: Bytes32 | Uint8Array | string, len: number, what?: string): Uint8Array;
export function toU64(v: U64Like, what?: string): bigint;

// ---- keys ---------------------------------------------------------------------------------
export function generateKey(): Key;
/** 64 hex characters of the secret key (surrounding whitespace ignored). */
export function keyFromHex(hex: string): Key;
/** A file holding 64 hex characters of the secret key (lstd's DATA/keys/<role>.key). */
export function loadKeyFile(path: string): Key;
/** Lowercase hex address of a public key or a Key. */
export function address(pk: AccountLike): Hex;

// ---- signing (offline) --------------------------------------------------------------------
export interface UnsignedTx {
  kind: KindName | string;
  signer: Bytes32;
  nonce: U64Like;
  fields: Record<string, unknown>;
}
export interface SignedTx {
  kind: KindName;
  signer: Uint8Array;
  nonce: bigint;
  /** Normalized: integers as bigint, keys/refs as Uint8Array. */
  fields: Record<string, bigint | Uint8Array>;
  hash: Uint8Array;
  sig: Uint8Array;
}
/** 0x01, kind, signer, nonce (u64 BE), fields in table order. */
export function signingBytes(tx: UnsignedTx): Uint8Array;
/** BIP-340 tagged hash SHA256(SHA256(tag) ‖ SHA256(tag) ‖ msg). */
export function taggedHash(tag: string, msg: Uint8Array): Uint8Array;
/** Tagged hash with tag "lstd/tx/v1/" + ledgerId over the signing bytes. */
export function txHash(ledgerId: string, tx: UnsignedTx): Uint8Array;
/** BIP-340 signature; auxRand defaults to fresh randomness (all zero only for test vectors). */
export function sign(msgHash: Bytes32, secretKey: Key | Bytes32, auxRand?: Bytes32): Uint8Array;
export function verify(sig: Uint8Array | Hex, msgHash: Bytes32, publicKey: Bytes32): boolean;
export function signTx(
  ledgerId: string, key: Key | Bytes32, kind: KindName | string, nonce: U64Like,
  fields: Record<string, unknown>, opts?: { auxRand?: Bytes32 },
): SignedTx;

// ---- msgpack ------------------------------------------------------------------------------
/** msgpack of one map; integers in the smallest unsigned format. */
export function encodeMap(map: Record<string, unknown>): Uint8Array;
/** The request for a signed transaction: id?, op, signer, nonce, fields…, sig, ledger?. */
export function encodeRequest(tx: SignedTx, opts?: { id?: number | bigint | string; ledger?: string }): Uint8Array;
/** Decode a reply or record: integers as bigint, bin as hex. */
export function decodeReply(bytes: Uint8Array): any;
/** A 128-bit total from its decimal string: a bigint (throws unless 1..39 digits below 2^128). */
export function fromU128(v: string | bigint, what?: string): bigint;
/** A copy of a query's result with its U128_FIELDS as bigint (other ops: unchanged). */
export function convertU128(op: string, result: any): any;

// ---- errors -------------------------------------------------------------------------------
/**
 * `code` is the stable error name from PROTOCOL.md ("NONCE_GAP", "NOT_FOUND", …) or one of
 * the client's own: "TIMEOUT", "CLOSED", "PROTOCOL".
 */
export class LstdError extends Error {
  constructor(code: string, message?: string, extra?: { reply?: any; op?: string; hash?: Hex });
  readonly code: string;
  /** The decoded reply when the server answered. */
  readonly reply?: RawReply;
  readonly op?: string;
  /** For transactions: the hash (look a TIMEOUT up with `client.tx(hash)`). */
  hash?: Hex;
}

// ---- replies ------------------------------------------------------------------------------
export interface RawReply {
  id?: bigint | string;
  ok: boolean;
  error?: string;
  message?: string;
  result?: any;
}

export interface SubmitResult {
  /** true: applied (now, or earlier for a duplicate). false: a recorded rule violation. */
  ok: boolean;
  /** null on success, else the stable error name (same as `code`). */
  error: string | null;
  message: string | null;
  /** "OK" or the rule violation. */
  code: string;
  recorded: boolean;
  duplicate: boolean;
  seq: bigint;
  batch: bigint;
  time: bigint;
  hash: Hex;
  /** Delivered amounts by name (ledger/README.md kinds table); empty on a rejection. */
  out: Record<string, bigint>;
  nonce: bigint;
}

export interface Fee {
  /** The fee before a scheduled increase (reports settle a due increase into it). */
  bps: bigint;
  /** A scheduled increase (pending_at 0: none). */
  pending_bps: bigint; pending_at: bigint;
  /** The fee in force at the query's time: pending_bps once pending_at has come. */
  in_force_bps: bigint;
}

export interface TxRecord {
  seq: bigint; batch: bigint; time: bigint; hash: Hex; prev: Hex;
  kind: KindName; signer: Hex; nonce: bigint;
  fields: Record<string, bigint | Hex>;
  sig: Hex; code: string; ok: boolean;
  out: Record<string, bigint>;
  /** Accounts the transaction changed without naming them (PROTOCOL.md, Records), ascending. */
  accounts: Hex[];
}

export interface Page { records: TxRecord[]; next: bigint | null }

/** Every time-dependent figure is as of `now`, the query's time. */
export interface Pool {
  ledger_id: string; decimals: bigint;
  /** A: vested pooled assets (the rate's numerator). */
  assets: bigint; shares: bigint;
  rate_num: bigint; rate_den: bigint;
  /** A/S with 18 fractional digits, rounded down; null if S were 0. */
  rate: string | null;
  /** U: reported reward not yet vested; A + U = buffer + operator balances. */
  unvested: bigint;
  /** When U will have vested (0 when U is 0). */
  vest_end: bigint;
  buffer: bigint;
  /** 128-bit totals (sent as decimal strings, converted). */
  payable: bigint;
  total_deposited: bigint; total_rewards: bigint; total_slashed: bigint; total_paid: bigint;
  dead_shares: bigint;
  /** Loss the held reports would book; bunker mode when > 0. */
  held_loss: bigint;
  bunker: boolean;
  /** (A - held_loss)/S as `rate` is written: what withdraw_finalize pays; null unless bunker. */
  bunker_rate: string | null;
  stake_limit: bigint | null;
  paused: { deposits: boolean; transfers: boolean; withdrawals: boolean };
  params: Record<keyof typeof PARAMS, bigint>;
  treasury_fee: Fee;
  admin: Hex; custodian: Hex; treasury: Hex;
  operator_count: bigint; next_lien_id: bigint; next_request_id: bigint; finalized_through: bigint;
  /** The epoch running at `now` (the highest a report may carry) and when it began. */
  epoch: bigint; epoch_start: bigint;
  /** Who books balances: each operator's key, or a quorum of the oracle committee. */
  report_mode: "operator" | "committee";
  /** N members, quorum M; majority: M > N/2; minority: the admin accepted M <= N/2. */
  oracle: { members: bigint; quorum: bigint; majority: boolean; minority: boolean };
  /** The operator holding the largest share of A + U (null: none holds stake), and the share. */
  top_operator_id: bigint | null; top_operator_share_bps: bigint;
  last_reports: Array<{ operator_id: bigint; epoch: bigint; balance: bigint; time: bigint }>;
  seq: bigint; batch: bigint;
  /** Last batch time. */
  time: bigint;
  /** The query's time: max(server clock, time), the time the next batch would use. */
  now: bigint;
  head: Hex; digest: Hex;
}

export interface Lien {
  lien_id: bigint; owner: Hex; beneficiary: Hex; shares: bigint; expiry: bigint; created: bigint; value: bigint;
}

export interface Withdrawal {
  request_id: bigint; owner: Hex; shares: bigint; amount_at_request: bigint; min_amount_out: bigint;
  requested: bigint; status: "pending" | "cancelled" | "finalized" | "returned" | "settled";
  paid: bigint; finalized: bigint; payout_ref: Hex; settled: bigint;
}

export interface Account {
  account: Hex; shares: bigint; locked: bigint; queued: bigint; total: bigint;
  value: bigint; free_value: bigint; nonce: bigint; next_nonce: bigint;
  liens: Lien[]; allowances: Array<{ spender: Hex; shares: bigint }>; withdrawals: Withdrawal[];
  truncated: boolean;
}

export interface Operator {
  operator_id: bigint; key: Hex; fee_account: Hex; active: boolean; fee: Fee;
  /** The fees in force when the operator's current report period began. */
  period_fee_bps: bigint; period_treasury_bps: bigint;
  /** What its next report would be charged now: the lower of the period's and today's. */
  next_report_fees: { treasury_bps: bigint; operator_bps: bigint };
  balance: bigint; reported_balance: bigint;
  /** 128-bit (sent as decimal strings, converted). */
  funded_since: bigint; exited_since: bigint;
  last_epoch: bigint; last_report_time: bigint;
  /** The epoch running now: the highest a report may carry. */
  epoch: bigint;
  /** 128-bit (sent as a decimal string, converted). */
  fees_earned: bigint;
  /** floor(balance * 10000 / (A + U)). */
  share_bps: bigint;
  apr_bps: bigint | null;
  /** A held report and the loss accepting it would book now (0 for a gain). */
  held: { epoch: bigint; balance: bigint; loss: bigint } | null;
  reports: Array<{ epoch: bigint; balance: bigint; time: bigint; gain: bigint; loss: bigint; fee_shares: bigint }>;
}

export interface Quote { amount: bigint; shares: bigint; rate_num: bigint; rate_den: bigint }

export interface Queue {
  next_request_id: bigint; finalized_through: bigint; pending_count: bigint;
  pending_shares: bigint; pending_amount: bigint; buffer: bigint; payable: bigint;
}

export interface Health {
  status: "ok"; ledger_id: string; seq: bigint; batch: bigint; uptime_s: bigint;
  queue_depth: bigint; queue_max: bigint;
  connections: bigint; subscribers: bigint; subscriptions: bigint; reply_bytes: bigint;
  counters: {
    requests: bigint; transactions: bigint; queries: bigint; batches: bigint; batch_size_max: bigint;
    commit_ms_total: bigint; busy: bigint; malformed: bigint; bad_signatures: bigint;
    duplicates: bigint; replies_dropped: bigint;
    busy_unread: bigint; paused_unread: bigint; paused_share: bigint; refused: bigint;
    protocol_drops: bigint; slow_drops: bigint; auth_failures: bigint; subscriptions_ignored: bigint;
    events_dropped: bigint;
  };
}

/** One exchange-rate change (PROTOCOL.md, rate_history): the pool just after the record. */
export interface RateEntry {
  seq: bigint; batch: bigint; time: bigint;
  kind: "report" | "slash" | "report_accept" | "operator_reset";
  operator_id: bigint;
  /** What the record booked. */
  gain: bigint; loss: bigint;
  /** A (vested to the record's batch time), S and U after it. */
  assets: bigint; shares: bigint; unvested: bigint;
  /** A/S with 18 fractional digits, rounded down; null if S were 0. */
  rate: string | null;
}

export interface RatePage { entries: RateEntry[]; next: bigint | null }

/** An oracle member and its agreement with applied results (PROTOCOL.md, votes). */
export interface OracleMember {
  member: Hex; added: bigint; votes: bigint; last_vote: bigint;
  /** Its votes for an epoch whose committee result was applied, and those that differed. */
  compared: bigint; differed: bigint;
  /** Of its last `recent` comparisons (at most the query's `last`), how many differed. */
  recent: bigint; recent_differed: bigint;
}

/** The votes of one pending epoch of an operator, grouped by tuple (most votes first). */
export interface EpochVotes {
  epoch: bigint; votes: bigint;
  tuples: Array<{ balance: bigint; performance_bps: bigint; votes: bigint; members: Hex[] }>;
  /** Members with no vote for this epoch. */
  not_voted: Hex[];
}

export interface OperatorVotes {
  operator_id: bigint; last_epoch: bigint;
  /** A held report (performance_bps: null when the operator reported it itself). */
  held: { epoch: bigint; balance: bigint; performance_bps: bigint | null } | null;
  epochs: EpochVotes[];
}

export interface Votes {
  report_mode: "operator" | "committee"; quorum: bigint; last: bigint;
  members: OracleMember[];
  /** Members whose last `last` votes include one that differed from the applied result. */
  differed: Hex[];
  operators: OperatorVotes[];
  /** The `after` of the next page, or null. */
  next: bigint | null;
}

/** One operator on the scorecard (PROTOCOL.md, operators). Rates and performance are bps over
 *  batch time, time-weighted; null when no time is covered. */
export interface OperatorCard {
  operator_id: bigint; active: boolean; fee: Fee;
  next_report_fees: { treasury_bps: bigint; operator_bps: bigint };
  fee_total_bps: bigint;
  balance: bigint;
  /** Of A + U, and of every operator's balance together. */
  share_bps: bigint; stake_share_bps: bigint;
  apr_7d_bps: bigint | null; apr_30d_bps: bigint | null; apr_bps: bigint | null;
  performance_7d_bps: bigint | null; performance_30d_bps: bigint | null; performance_bps: bigint | null;
  reports_7d: bigint; reports_30d: bigint; reports: bigint;
  registered: bigint; last_report_time: bigint | null; last_report_age_s: bigint | null;
  held: boolean;
  slashes: bigint;
  /** 128-bit (sent as a decimal string, converted). */
  slashed: bigint;
  slashing: Array<{ seq: bigint; time: bigint; loss: bigint }>;
}

export interface Operators { now: bigint; order: OperatorOrder; operators: OperatorCard[] }

// ---- client -------------------------------------------------------------------------------
export interface ConnectOptions {
  /** ROUTER endpoint, default tcp://127.0.0.1:7440. */
  endpoint?: string;
  /** PUB endpoint, default tcp://127.0.0.1:7441. */
  events?: string;
  /** Per request: unanswered after this long, the same bytes are sent again; default 10000. */
  timeoutMs?: number;
  /** Resends before TIMEOUT, default 1. */
  retries?: number;
  /** Fail with LEDGER_MISMATCH unless the server's ledger id is this. */
  ledgerId?: string;
  /** CurveZMQ (a server with curve_secret_key): the server's public key and this client's key
   *  pair, each 40 Z85 characters, 64 hex characters or 32 bytes; the public key must be in the
   *  server's curve_clients. Omitted: the NULL mechanism. */
  curve?: CurveKeys;
}

export interface CurveKeys {
  serverKey: string | Uint8Array;
  publicKey: string | Uint8Array;
  secretKey: string | Uint8Array;
}

/** A 32-byte CURVE key as 40 Z85 characters, and back. */
export function z85Encode(bytes: Uint8Array): string;
export function z85Decode(text: string): Uint8Array;
/** A CURVE key (Z85, hex or bytes) as Z85 text. */
export function curveKey(k: string | Uint8Array, what?: string): string;
/** The key of a CURVE public key file (`lst curve-keygen NAME` writes NAME.public), as Z85. */
export function loadCurvePublicKey(path: string): string;
/** The key of a CURVE secret key file (NAME.secret; refused when others may read it), as Z85. */
export function loadCurveSecretKey(path: string): string;

export interface SubmitOptions {
  /** Use this nonce instead of the tracked one (the tracker is left alone). */
  nonce?: U64Like;
  timeoutMs?: number;
  auxRand?: Bytes32;
}

export interface SubscribeOptions {
  /** Deliver records with seq > after; omitted: the last seq when subscribe() is called. */
  after?: U64Like;
  /** Only records naming this account (caught up through its history). */
  account?: AccountLike;
  /** Only this kind. */
  kind?: KindName | string;
  /** Catch up through the query after this long without a published record; 0: never. Default 1000. */
  pollMs?: number;
}

export class Subscription implements AsyncIterableIterator<TxRecord> {
  readonly account?: Hex;
  readonly kind?: KindName;
  /** Every record up to this seq was delivered or did not match. */
  readonly cursor: bigint | undefined;
  next(): Promise<IteratorResult<TxRecord, undefined>>;
  return(value?: any): Promise<IteratorResult<TxRecord, undefined>>;
  throw(e?: any): Promise<IteratorResult<TxRecord, undefined>>;
  [Symbol.asyncIterator](): this;
  close(): void;
}

export class Client {
  static connect(opts?: ConnectOptions): Promise<Client>;
  readonly endpoint: string;
  readonly eventsEndpoint: string;
  readonly timeoutMs: number;
  readonly retries: number;
  /** From the pool query at connect. */
  readonly ledgerId: string | undefined;
  readonly closed: boolean;
  close(): void;

  /** Raw request: the map plus an `id`; resolves with the decoded reply, whatever `ok` is. */
  request(map: Record<string, unknown>, opts?: { timeoutMs?: number }): Promise<RawReply>;
  /** Any query: resolves with `result`, rejects with LstdError. */
  query(op: string, fields?: Record<string, unknown>, opts?: { timeoutMs?: number }): Promise<any>;

  pool(): Promise<Pool>;
  account(account: AccountLike): Promise<Account>;
  tx(hash: Bytes32): Promise<TxRecord>;
  history(account: AccountLike, opts?: { after?: U64Like; limit?: U64Like }): Promise<Page>;
  historyAll(account: AccountLike, opts?: { after?: U64Like; limit?: U64Like }): AsyncGenerator<TxRecord, void>;
  operator(operatorId: U64Like): Promise<Operator>;
  quote(q: { amount: U64Like } | { shares: U64Like }): Promise<Quote>;
  lien(lienId: U64Like): Promise<Lien>;
  withdrawal(requestId: U64Like): Promise<Withdrawal>;
  queue(): Promise<Queue>;
  events(opts?: { after?: U64Like; limit?: U64Like }): Promise<Page>;
  health(): Promise<Health>;
  /** Exchange-rate changes with seq >= from (default 0); limit 1..1000 (default 100). */
  rateHistory(opts?: { from?: U64Like; limit?: U64Like }): Promise<RatePage>;
  votes(opts?: { operatorId?: U64Like; after?: U64Like; limit?: U64Like; last?: U64Like }): Promise<Votes>;
  operators(opts?: { order?: OperatorOrder; activeOnly?: boolean; reverse?: boolean; limit?: U64Like }): Promise<Operators>;

  /**
   * Sign with the signer's next nonce and submit. Resolves when recorded (ok false for a
   * recorded rule violation); rejects with LstdError for rejections that are not recorded
   * (BAD_SIGNATURE, NONCE_GAP, NONCE_USED, BUSY, request errors) and for TIMEOUT/CLOSED.
   */
  submit(key: Key, kind: KindName | string, fields: Record<string, unknown>, opts?: SubmitOptions): Promise<SubmitResult>;
  /** Submit a transaction signed with signTx (nonce tracking untouched). */
  submitSigned(tx: SignedTx, opts?: { timeoutMs?: number }): Promise<SubmitResult>;
  /** Forget a signer's tracked nonce: the next submit asks the server. */
  resetNonce(signer: AccountLike): void;

  /** min_shares_out defaults to 0. */
  deposit(key: Key, f: { to: AccountLike; amount: U64Like; external_ref: Bytes32; min_shares_out?: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  transfer(key: Key, f: { to: AccountLike; shares: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  approve(key: Key, f: { spender: AccountLike; shares: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  transferFrom(key: Key, f: { owner: AccountLike; to: AccountLike; shares: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  /** expiry 0 (default): no expiry. */
  lock(key: Key, f: { beneficiary: AccountLike; shares: U64Like; expiry?: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  release(key: Key, f: { lien_id: U64Like; shares: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  seize(key: Key, f: { lien_id: U64Like; shares: U64Like; to: AccountLike }, opts?: SubmitOptions): Promise<SubmitResult>;
  withdrawRequest(key: Key, f: { shares: U64Like; min_amount_out?: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  withdrawCancel(key: Key, f: { request_id: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  withdrawFinalize(key: Key, f: { up_to_id: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  withdrawSettle(key: Key, f: { request_id: U64Like; payout_ref: Bytes32 }, opts?: SubmitOptions): Promise<SubmitResult>;
  operatorFund(key: Key, f: { operator_id: U64Like; amount: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  operatorExit(key: Key, f: { operator_id: U64Like; amount: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  report(key: Key, f: { operator_id: U64Like; epoch: U64Like; balance: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  reportAccept(key: Key, f: { operator_id: U64Like; epoch: U64Like; balance: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  /** admin: re-anchor an operator at a started epoch, booking `balance` without the sanity limits. */
  operatorReset(key: Key, f: { operator_id: U64Like; epoch: U64Like; balance: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  operatorRegister(key: Key, f: { operator: AccountLike; fee_account: AccountLike; fee_bps: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  operatorSetActive(key: Key, f: { operator_id: U64Like; active: boolean | U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  operatorSetKeys(key: Key, f: { operator_id: U64Like; operator: AccountLike; fee_account: AccountLike }, opts?: SubmitOptions): Promise<SubmitResult>;
  /** operator_id 0: the treasury fee. */
  feeSet(key: Key, f: { operator_id: U64Like; fee_bps: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  paramSet(key: Key, f: { param: keyof typeof PARAMS | U64Like; value: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  pauseSet(key: Key, f: { flags: U64Like | { deposits?: boolean; transfers?: boolean; withdrawals?: boolean } }, opts?: SubmitOptions): Promise<SubmitResult>;
  roleSet(key: Key, f: { role: keyof typeof ROLES | U64Like; account: AccountLike }, opts?: SubmitOptions): Promise<SubmitResult>;
  oracleAdd(key: Key, f: { member: AccountLike; quorum: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  oracleRemove(key: Key, f: { member: AccountLike; quorum: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  quorumSet(key: Key, f: { mode: keyof typeof REPORT_MODES | U64Like; quorum: U64Like; minority?: boolean | U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;
  vote(key: Key, f: { operator_id: U64Like; epoch: U64Like; balance: U64Like; performance_bps: U64Like }, opts?: SubmitOptions): Promise<SubmitResult>;

  /** Records in seq order; catches up through the events (or history) query at start and on gaps. */
  subscribe(opts?: SubscribeOptions): Subscription;
}
