// good.ts - correct usage: `tsc --strict --noEmit` must accept it (test/types.test.js)
import {
  Client, LstdError, RecordedError, RejectedError, TransportError, ArgumentError, expectOk,
  generateKey, parseUnits, formatUnits, parseRef, formatRef, signTx, KINDS, ERRORS, QUERIES,
} from "lstd-client";
import type { ErrorName, KindName, RecordedErrorName, SubmitResult, TxRecord, AnySubmitResult } from "lstd-client";

async function main(): Promise<void> {
  const c = await Client.connect({ endpoint: "tcp://127.0.0.1:7440", timeoutMs: 5000, busyRetries: 8 });
  const alice = generateKey(), bob = generateKey();
  const decimals: number | undefined = c.decimals;
  const amount: bigint = parseUnits("1.5", decimals ?? 9);
  const shown: string = formatUnits(amount, 9) + c.formatUnits(amount);
  const ref: Uint8Array = parseRef("bank-transfer-0001");
  const back: string = formatRef(ref);

  const r = await c.transfer(alice, { to: bob.address, shares: amount }, { timeoutMs: 100 });
  if (r.ok) {
    const moved: bigint = r.out.shares_moved;
    const code: "OK" = r.code;
    void moved, code;
  } else {
    const why: RecordedErrorName = r.error;
    if (r.error === "INSUFFICIENT_SHARES") console.log(r.seq);
    void why;
  }
  const d = await c.deposit(alice, { to: bob, amount: 10n, external_ref: "bank-1" });
  if (d.ok) console.log(d.out.shares_minted, d.out.amount_credited);
  const f = await c.submit(alice, "withdraw_finalize", { up_to_id: 3 });
  if (f.ok) console.log(f.out.requests_paid, f.out.requests_returned);
  const ok = expectOk(await c.lock(alice, { beneficiary: bob, shares: 5n }));
  const lienId: bigint = ok.out.lien_id;
  const thrown = await c.submitOrThrow(alice, "approve", { spender: bob, shares: 1n });
  console.log(thrown.out.allowance, lienId);

  const any: AnySubmitResult = r;
  if (any.kind === "transfer" && any.ok) console.log(any.out.shares_moved);

  const rec: TxRecord = await c.tx(r.hash);
  if (rec.kind === "deposit") {
    const ext: string = rec.fields.external_ref;
    if (rec.ok) console.log(ext, rec.out.shares_minted);
  }
  const pool = await c.query("pool", {});
  const hist = await c.query("history", { account: alice, limit: 10 });
  const quote = await c.quote({ amount: 5n });
  const quote2 = await c.query("quote", { shares: 5n });
  console.log(pool.params.VEST_S, hist.records.length, quote.shares, quote2.amount, (await c.pool({ timeoutMs: 50, retries: 0 })).rate);

  try {
    await c.transfer(alice, { to: bob.address, shares: 1n });
  } catch (e) {
    if (e instanceof RejectedError && e.code === "NONCE_GAP") console.log(e.request?.op);
    if (e instanceof RecordedError && e.code === "INSUFFICIENT_SHARES") console.log(e.seq + 1n);
    if (e instanceof TransportError && (e.code === "NOT_LISTENING" || e.code === "TIMEOUT")) console.log(e.hash);
    if (e instanceof ArgumentError && e.code === "TOO_MANY_DECIMALS") console.log(e.message);
    if (e instanceof LstdError && !e.recorded && e.code === "BUSY") console.log(e.op);
  }
  const name: ErrorName = "DEPOSIT_REF_USED";
  const kind: KindName = KINDS[0].name;
  const n: number = ERRORS.NONCE_GAP + QUERIES.history.length;
  const tx = signTx("ledger", alice, "transfer", 1n, { to: bob, shares: 2n });
  const s: SubmitResult<"transfer"> = await c.submitSigned(tx);
  console.log(name, kind, n, s.nonce, shown, back);
  for await (const ev of c.subscribe({ kind: "transfer", after: 0n })) {
    if (ev.kind === "transfer" && ev.ok) console.log(ev.out.shares_moved, ev.fields.to);
    break;
  }
  c.close();
}
void main();
