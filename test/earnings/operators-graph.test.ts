import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { eventually } from "../support/eventually.js";
import { gift, produce } from "./support.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack("earnops");
});
afterAll(async () => {
  await stack?.stop();
});

const hostToken = (sub: string) => stack.token({ sub, name: `Host ${sub}`, roles: ["viewer", "host"], adult: true });
const adminToken = () => stack.token({ sub: "ops-admin", name: "Ops", roles: ["viewer", "admin"] });
const PAYOUT = `mutation($d: Int!, $k: String!) { requestPayout(input: { diamonds: $d, idempotencyKey: $k }) { payout { id status } userErrors { code } } }`;
const HOLD = `mutation($c: ID!, $r: String!) { holdCreatorPayouts(input: { creatorId: $c, reason: $r }) { hold { since reason heldBy } userErrors { code } } }`;
const RELEASE = `mutation($c: ID!, $r: String!) { releaseCreatorPayouts(input: { creatorId: $c, reason: $r }) { hold { since } userErrors { code } } }`;
const PROCESS = `mutation { processPayouts(input: { limit: 100 }) { payouts { id status } userErrors { code } } }`;
const MINE = `query($c: ID!) { creator(id: $c) { payoutHold { since reason } payouts(first: 5) { nodes { id status lifecycle { attempts onHold providerRef lastError events { from to note } } } } } }`;
const month = new Date().toISOString().slice(0, 7);
const STATEMENT = `query($c: ID!, $m: String!) { creator(id: $c) { statements(month: $m) { month complete openingDiamonds earnedDiamonds closingDiamonds reservedDiamonds returnedDiamonds
  liveSessions { gifts coins diamonds } videos { gifts coins diamonds } roundingDiamonds revenueShares { shareBps coins diamonds }
  payoutsPaid { count diamonds amount { amountMinor currency } fees { amountMinor } } pendingPayoutDiamonds } statementCsv(month: $m) } }`;

async function earn(hostId: string, unitCost: number) {
  const ds = stack.subgraphs.earnings.dataSource;
  const before = Number((await ds.query(`SELECT coalesce(sum(amount), 0) AS s FROM earnings.diamond_ledger WHERE creator_id = $1 AND type = 'GIFTS'`, [hostId]))[0]?.s ?? 0);
  await produce(ds, [gift({ hostId, unitCost })]);
  await eventually(async () => {
    const [r] = await ds.query(`SELECT coalesce(sum(amount), 0) AS s FROM earnings.diamond_ledger WHERE creator_id = $1 AND type = 'GIFTS'`, [hostId]);
    expect(Number(r.s)).toBeGreaterThan(before);
  });
}

describe("payout holds and the lifecycle, through the gateway", () => {
  it("an admin holds a creator's payouts with a reason; the host sees the hold (not the reason) and the waiting payout; after release the next run pays it and the host sees every step", async () => {
    const host = await hostToken("op-held");
    await earn("op-held", 20_000);
    const p = (await stack.gql(PAYOUT, { d: 10_000, k: "op-held-1" }, host)).data.requestPayout.payout;
    const admin = await adminToken();
    expect((await stack.gql(HOLD, { c: "op-held", r: "chargeback investigation" }, host)).errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const held = await stack.gql(HOLD, { c: "op-held", r: "chargeback investigation" }, admin);
    expect(held.data.holdCreatorPayouts).toMatchObject({ hold: { reason: "chargeback investigation", heldBy: "ops-admin" }, userErrors: [] });
    expect((await stack.gql(PROCESS, {}, admin)).data.processPayouts.userErrors).toEqual([]);

    const waiting = (await stack.gql(MINE, { c: "op-held" }, host)).data.creator;
    expect(waiting.payoutHold).toMatchObject({ reason: null });
    expect(waiting.payouts.nodes[0]).toMatchObject({ id: p.id, status: "REQUESTED", lifecycle: { attempts: 0, onHold: true, events: [{ from: null, to: "REQUESTED" }] } });

    await stack.gql(RELEASE, { c: "op-held", r: "cleared" }, admin);
    const processed = (await stack.gql(PROCESS, {}, admin)).data.processPayouts.payouts;
    expect(processed).toContainEqual({ id: p.id, status: "PAID" });
    const paid = (await stack.gql(MINE, { c: "op-held" }, host)).data.creator;
    expect(paid.payoutHold).toBeNull();
    expect(paid.payouts.nodes[0].lifecycle).toMatchObject({ attempts: 1, onHold: false, providerRef: expect.stringMatching(/^sbx_po_/), lastError: null });
    expect(paid.payouts.nodes[0].lifecycle.events.map((e: any) => e.to)).toEqual(["REQUESTED", "PROCESSING", "PAID"]);
    expect((await stack.gql(HOLD, { c: "nobody", r: "x" }, admin)).data.holdCreatorPayouts.userErrors[0].code).toBe("NOT_FOUND");
  });
});

describe("Creator.statements and statementCsv, through the gateway", () => {
  it("the host reads the month's statement (figures reconcile) and its CSV; another host is FORBIDDEN; a malformed month is BAD_USER_INPUT", async () => {
    const host = await hostToken("op-stmt");
    await earn("op-stmt", 30_001); // 15,000 diamonds (floor of 15,000.5)
    await stack.gql(PAYOUT, { d: 10_000, k: "op-stmt-1" }, host);
    await stack.gql(PROCESS, {}, await adminToken());
    const res = await stack.gql(STATEMENT, { c: "op-stmt", m: month }, host);
    expect(res.errors).toBeUndefined();
    const s = res.data.creator.statements;
    expect(s).toMatchObject({
      month,
      complete: false,
      openingDiamonds: 0,
      earnedDiamonds: 15_000,
      videos: { gifts: 1, coins: 30_001, diamonds: 15_000 },
      liveSessions: { gifts: 0, coins: 0, diamonds: 0 },
      roundingDiamonds: 0,
      revenueShares: [{ shareBps: 5000, coins: 30_001, diamonds: 15_000 }],
      reservedDiamonds: 10_000,
      returnedDiamonds: 0,
      closingDiamonds: 5_000,
      payoutsPaid: { count: 1, diamonds: 10_000, amount: { amountMinor: 5000, currency: "USD" }, fees: { amountMinor: 0 } },
      pendingPayoutDiamonds: 0,
    });
    const csv: string = res.data.creator.statementCsv;
    const lines = csv.trimEnd().split("\r\n").map((l) => l.split(","));
    expect(lines[0]).toEqual(["line", "gifts", "coins", "share_bps", "diamonds", "amount_minor", "currency"]);
    expect(lines.find((l) => l[0] === "closing_balance")?.[4]).toBe("5000");
    expect(lines.find((l) => l[0] === "payouts_paid")?.slice(4)).toEqual(["10000", "5000", "USD"]);
    expect((await stack.gql(STATEMENT, { c: "op-stmt", m: month }, await hostToken("op-other"))).errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect((await stack.gql(STATEMENT, { c: "op-stmt", m: "2031-13" }, host)).errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect((await stack.gql(STATEMENT, { c: "op-stmt", m: month }, await adminToken())).data.creator.statements.closingDiamonds).toBe(5_000);
  });
});
