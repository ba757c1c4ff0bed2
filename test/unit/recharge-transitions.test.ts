import { describe, expect, it } from "vitest";
import {
  INITIAL_STATUS,
  OPEN_STATUSES,
  ORDER_EVENTS,
  ORDER_STATUSES,
  PAYMENT_EVENTS,
  STATUS_RULES,
  TRANSITIONS,
  WEBHOOK_EVENTS,
  isOpen,
  shownAs,
  statusesMatching,
  transitionFor,
  type OrderEvent,
  type OrderStatus,
} from "../../subgraphs/wallet/domain/recharge/transitions.js";
import { UPDATES } from "../../subgraphs/wallet/domain/recharge/machine.js";
import { REQUEUE_SQL, WAITING_SQL } from "../../subgraphs/wallet/domain/recharge/reconcile.js";

/**
 * The recharge order state machine (subgraphs/wallet/domain/recharge/transitions.ts), without a
 * database: the table is data, so what it allows is checked here; test/wallet/* checks that the
 * database follows it under races.
 */

/** Every (from, event) → to the machine allows; anything else changes nothing. */
const EXPECTED: Record<OrderStatus, Partial<Record<OrderEvent, OrderStatus>>> = {
  PROCESSING: { succeeded: "SUCCEEDED", failed: "FAILED", requires_action: "REQUIRES_ACTION", processing: "PENDING" },
  PENDING: { succeeded: "SUCCEEDED", failed: "FAILED" },
  REQUIRES_ACTION: { succeeded: "SUCCEEDED", failed: "FAILED" },
  SUCCEEDED: { refunded: "REFUNDED", charged_back: "CHARGED_BACK", refunds_completed: "REFUNDED" },
  FAILED: {},
  REFUNDED: {},
  CHARGED_BACK: {},
};

const reachableFrom = (start: OrderStatus): Set<OrderStatus> => {
  const seen = new Set<OrderStatus>([start]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const t of TRANSITIONS) {
      if (seen.has(t.from) && !seen.has(t.to)) {
        seen.add(t.to);
        grew = true;
      }
    }
  }
  return seen;
};

describe("recharge order transitions (the table)", () => {
  it("allows exactly the documented (status × event) → status moves; every other pair changes nothing", () => {
    for (const from of ORDER_STATUSES) {
      for (const on of ORDER_EVENTS) {
        expect(transitionFor(from, on)?.to ?? null, `${from} × ${on}`).toBe(EXPECTED[from][on] ?? null);
      }
    }
    expect(TRANSITIONS).toHaveLength(Object.values(EXPECTED).reduce((n, row) => n + Object.keys(row).length, 0));
  });

  it("an unknown status or event changes nothing", () => {
    expect(transitionFor("SHIPPED", "succeeded")).toBeNull();
    expect(transitionFor("PROCESSING", "shipped" as OrderEvent)).toBeNull();
  });

  it("credits coins on exactly the moves into SUCCEEDED, and only from an open order", () => {
    const crediting = TRANSITIONS.filter((t) => t.effects.some((e) => e.kind === "credit_coins"));
    expect(crediting.map((t) => t.from).sort()).toEqual([...OPEN_STATUSES].sort());
    expect(new Set(crediting.map((t) => t.to))).toEqual(new Set(["SUCCEEDED"]));
    expect(TRANSITIONS.filter((t) => t.to === "SUCCEEDED")).toEqual(crediting);
    for (const t of crediting) expect(t.effects).toHaveLength(1);
  });

  it("takes coins back only from SUCCEEDED: a refund books REFUND and counts the money as refunded, a chargeback books CHARGEBACK", () => {
    const takingBack = TRANSITIONS.filter((t) => t.effects.some((e) => e.kind === "take_back_coins"));
    expect(takingBack.map((t) => [t.from, t.on, t.to, t.effects])).toEqual([
      ["SUCCEEDED", "refunded", "REFUNDED", [{ kind: "take_back_coins", entry: "REFUND", moneyRefunded: true }]],
      ["SUCCEEDED", "charged_back", "CHARGED_BACK", [{ kind: "take_back_coins", entry: "CHARGEBACK", moneyRefunded: false }]],
    ]);
    // Admin partial refunds take back each refund's share themselves (refunds.ts): the last one only closes the order.
    expect(transitionFor("SUCCEEDED", "refunds_completed")).toMatchObject({ to: "REFUNDED", writes: "refund_totals", effects: [] });
  });

  it("no transition returns to an earlier state: an order is decided once and a decided order stays decided", () => {
    expect(reachableFrom(INITIAL_STATUS)).toEqual(new Set(ORDER_STATUSES));
    for (const t of TRANSITIONS) expect(reachableFrom(t.to).has(t.from), `${t.from} → ${t.to} → … → ${t.from}`).toBe(false);
    for (const s of ["FAILED", "REFUNDED", "CHARGED_BACK"] as const) expect(TRANSITIONS.filter((t) => t.from === s), s).toEqual([]);
  });

  it("the open statuses are those the provider can still decide, and only they", () => {
    for (const s of ORDER_STATUSES) {
      expect(isOpen(s), s).toBe(transitionFor(s, "succeeded") !== null);
      expect(isOpen(s), s).toBe(transitionFor(s, "failed") !== null);
    }
    expect(INITIAL_STATUS).toBe("PROCESSING");
    expect(isOpen(INITIAL_STATUS)).toBe(true);
  });

  it("writes completion columns on success, failure codes on failure, the challenge on REQUIRES_ACTION and the reversal on a refund or chargeback", () => {
    const writes = (to: OrderStatus) => new Set(TRANSITIONS.filter((t) => t.to === to && t.on !== "refunds_completed").map((t) => t.writes));
    expect(writes("SUCCEEDED")).toEqual(new Set(["completion"]));
    expect(writes("FAILED")).toEqual(new Set(["failure"]));
    expect(writes("REQUIRES_ACTION")).toEqual(new Set(["next_action"]));
    expect(writes("PENDING")).toEqual(new Set(["status"]));
    expect(writes("REFUNDED")).toEqual(new Set(["reversal"]));
    expect(writes("CHARGED_BACK")).toEqual(new Set(["reversal"]));
  });

  it("what a transition writes depends only on the event, so each event's caller knows which values to pass", () => {
    for (const on of ORDER_EVENTS) expect(new Set(TRANSITIONS.filter((t) => t.on === on).map((t) => t.writes)).size, on).toBe(1);
  });
});

describe("recharge order statements (machine.ts)", () => {
  const placeholders = (sql: string) => new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  const sample = { failureCode: "CARD_DECLINED", providerFailureCode: "stolen_card", nextActionJson: "null", reason: "chargeback" };

  it("every kind of write the machine runs has one statement that sets the status and updated_at, with its parameters numbered from $3", () => {
    const used = new Set(TRANSITIONS.filter((t) => t.writes !== "refund_totals").map((t) => t.writes));
    expect(new Set(Object.keys(UPDATES))).toEqual(used);
    for (const [kind, u] of Object.entries(UPDATES)) {
      expect(u.sql, kind).toMatch(/SET status = \$2, updated_at = now\(\)/);
      expect(u.sql, kind).toMatch(/WHERE id = \$1 RETURNING \*/);
      const n = u.params(sample).length;
      expect(placeholders(u.sql), kind).toEqual(new Set(Array.from({ length: n + 2 }, (_, i) => i + 1)));
    }
  });

  it("stamps completed_at and reversed_at with now() inside the statement, never from a parameter", () => {
    expect(UPDATES.completion.sql).toMatch(/completed_at = now\(\), next_action = NULL/);
    expect(UPDATES.failure.sql).toMatch(/completed_at = now\(\), next_action = NULL/);
    expect(UPDATES.reversal.sql).toMatch(/reversed_at = now\(\)/);
    for (const u of Object.values(UPDATES)) expect(u.params(sample)).not.toContain("now()");
  });

  it("refuses to run a write without the values it needs", () => {
    expect(() => UPDATES.failure.params({})).toThrow(/failureCode is required/);
    expect(() => UPDATES.next_action.params({})).toThrow(/nextActionJson is required/);
    expect(() => UPDATES.reversal.params({})).toThrow(/reason is required/);
  });

  it("the reconciler looks at the open statuses and re-queues those still open at the provider", () => {
    const listed = (sql: string) => /status IN \(([^)]*)\)/.exec(sql)![1].split(",").map((s) => s.trim().replace(/'/g, ""));
    expect(listed(WAITING_SQL).sort()).toEqual([...OPEN_STATUSES].sort());
    // PROCESSING is left alone: a retry with the same key (or staleness) re-drives it.
    expect(listed(REQUEUE_SQL).sort()).toEqual(OPEN_STATUSES.filter((s) => s !== INITIAL_STATUS).sort());
  });
});

describe("what the API makes of a status", () => {
  it("shows PROCESSING as PENDING, every other status as itself; a PENDING filter finds both", () => {
    for (const s of ORDER_STATUSES) expect(shownAs(s)).toBe(s === "PROCESSING" ? "PENDING" : s);
    expect(statusesMatching("PENDING").sort()).toEqual(["PENDING", "PROCESSING"]);
    for (const s of ORDER_STATUSES.filter((s) => s !== "PENDING")) expect(statusesMatching(s)).toEqual([s]);
  });

  it("confirmRecharge calls the provider only for REQUIRES_ACTION, replays a decided order and refuses one still waiting", () => {
    const by = (rule: string) => ORDER_STATUSES.filter((s) => STATUS_RULES[s].onConfirm === rule);
    expect(by("confirm")).toEqual(["REQUIRES_ACTION"]);
    expect(by("refuse")).toEqual(["PROCESSING", "PENDING"]);
    expect(by("replay")).toEqual(ORDER_STATUSES.filter((s) => !isOpen(s)));
  });

  it("maps every provider answer and webhook to an event; refunds and chargebacks of an order not yet paid settle it first", () => {
    expect(PAYMENT_EVENTS).toEqual({ succeeded: "succeeded", failed: "failed", requires_action: "requires_action", processing: "processing" });
    expect(Object.fromEntries(Object.entries(WEBHOOK_EVENTS).map(([type, r]) => [type, [r.on, r.succeededFirst]]))).toEqual({
      "payment.succeeded": ["succeeded", false],
      "payment.failed": ["failed", false],
      "payment.refunded": ["refunded", true],
      "payment.charged_back": ["charged_back", true],
    });
    for (const r of Object.values(WEBHOOK_EVENTS)) {
      // A reversal webhook needs a reason; settling first must make the reversal possible from every open status.
      if (r.succeededFirst) {
        expect(r.reason).toBeTruthy();
        for (const s of OPEN_STATUSES) expect(transitionFor(transitionFor(s, "succeeded")!.to, r.on), `${s} × succeeded × ${r.on}`).not.toBeNull();
      }
    }
  });
});
