import "reflect-metadata";
import { operationFromDocument, Supergraph } from "@apollo/federation-internals";
import { prettyFormatQueryPlan, QueryPlanner } from "@apollo/query-planner";
import { buildSchema, Kind, parse, type DirectiveNode, type GraphQLEnumType, type GraphQLObjectType, type GraphQLSchema } from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { committedSubgraphSdls } from "./support.js";
import { composeFromSdls, type ComposedSchemas } from "../../scripts/contracts-compose.js";
import { ContractError } from "../../scripts/contracts.js";

let composed: ComposedSchemas;
let api: GraphQLSchema;
let partner: GraphQLSchema;
beforeAll(async () => {
  composed = composeFromSdls(committedSubgraphSdls());
  api = buildSchema(composed.apiSchema);
  partner = buildSchema(composed.contracts.partner.apiSchema);
});

const fieldsOf = (schema: GraphQLSchema, type: string) => Object.keys((schema.getType(type) as GraphQLObjectType | undefined)?.getFields() ?? {});

/** A small, fully described addition to one subgraph, tagged the way a subgraph engineer would tag it. */
const PROBE = `
"""A probe type for the contract tests."""
type PartnerProbe @tag(name: "partner") {
  """Public id."""
  id: ID!
  """Never leaves the platform."""
  secret: String! @tag(name: "internal")
}
"""Reachable from nothing in the contract."""
type OrphanProbe @tag(name: "partner") {
  """Id."""
  id: ID!
}
extend type Query {
  """Tagged for partners."""
  partnerProbe: PartnerProbe @tag(name: "partner")
  """Not tagged: platform only."""
  hiddenProbe: OrphanProbe
}
`;

describe("the partner contract (schema:compose)", () => {
  it("comes with a generated Markdown reference of every contract type", () => {
    const md = composed.contracts.partner.markdown;
    expect(md).toMatch(/^# Partner API reference/);
    for (const type of Object.keys(partner.getTypeMap()).filter((t) => !t.startsWith("__") && !["String", "Int", "Float", "Boolean", "ID", "Query", "Mutation", "Subscription"].includes(t))) {
      expect(md).toContain(`### ${type}\n`);
    }
  });

  it("includes the public gift catalog", () => {
    expect(fieldsOf(partner, "Query")).toEqual(expect.arrayContaining(["gifts", "gift"]));
    expect(fieldsOf(partner, "Gift")).toEqual(expect.arrayContaining(["id", "name", "coinCost", "imageUrl"]));
  });

  it("leaves out wallets, the caller's identity, earnings balances, payouts and every mutation but the partner's own webhooks", () => {
    expect(fieldsOf(api, "Query")).toContain("me");
    expect(fieldsOf(partner, "Query")).not.toContain("me");
    for (const type of ["Wallet", "Payout", "PayoutPage"]) expect(partner.getType(type), type).toBeUndefined();
    expect(fieldsOf(partner, "Mutation").sort()).toEqual(["createWebhookSubscription", "deleteWebhookSubscription", "replayWebhookEvents"]);
    // Users appear only with their id and public profile (leaderboards, gift senders).
    expect(fieldsOf(partner, "User")).toEqual(["id", "displayName", "avatarUrl"]);
    expect(fieldsOf(api, "User")).toContain("wallet");
  });

  it("never contains an element tagged internal", () => {
    const internal: string[] = [];
    const tagged = (node: { directives?: readonly DirectiveNode[] }) =>
      node.directives?.some((d) => d.name.value === "tag" && d.arguments?.some((a) => a.value.kind === Kind.STRING && a.value.value === "internal"));
    for (const def of parse(composed.supergraph).definitions) {
      if (!("name" in def) || !def.name || !("fields" in def || "values" in def)) continue;
      if (tagged(def as never)) internal.push(def.name.value);
      for (const f of [...(("fields" in def && def.fields) || []), ...(("values" in def && def.values) || [])]) if (tagged(f)) internal.push(`${def.name.value}.${f.name.value}`);
    }
    expect(internal.length).toBeGreaterThan(0);
    for (const coord of internal) {
      const [type, field] = coord.split(".");
      const t = partner.getType(type);
      if (!field) expect(t, coord).toBeUndefined();
      else if (t && "getFields" in t) expect((t as GraphQLObjectType).getFields()[field], coord).toBeUndefined();
      else if (t && "getValue" in t) expect((t as unknown as GraphQLEnumType).getValue(field), coord).toBeUndefined();
    }
  });

  it("is a subset of the full API schema: every contract field exists there with the same type", () => {
    for (const type of Object.values(partner.getTypeMap())) {
      if (type.name.startsWith("__")) continue;
      const full = api.getType(type.name);
      expect(full, type.name).toBeDefined();
      if ("getFields" in type) {
        const fullFields = (full as GraphQLObjectType).getFields();
        for (const f of Object.values((type as GraphQLObjectType).getFields())) expect(String(fullFields[f.name]?.type), `${type.name}.${f.name}`).toBe(String(f.type));
      }
    }
  });

  it("composes into a supergraph that plans partner queries", () => {
    const supergraph = Supergraph.build(composed.contracts.partner.supergraph);
    const planner = new QueryPlanner(supergraph);
    const plan = planner.buildQueryPlan(operationFromDocument(supergraph.schema, parse(`{ gifts { id name coinCost } }`)));
    expect(prettyFormatQueryPlan(plan)).toContain(`Fetch(service: "catalog")`);
  });

  it("picks up a field tagged partner in one subgraph after compose, with its type, and without its internal or untagged neighbours", () => {
    const sdls = { ...composed.subgraphs, wallet: `${composed.subgraphs.wallet}\n${PROBE}` };
    const next = composeFromSdls(sdls);
    const contract = buildSchema(next.contracts.partner.apiSchema);
    expect(fieldsOf(contract, "Query")).toContain("partnerProbe");
    expect(fieldsOf(contract, "PartnerProbe")).toEqual(["id"]);
    expect(fieldsOf(contract, "Query")).not.toContain("hiddenProbe");
    // Tagged but unreachable from the contract's roots: removed.
    expect(contract.getType("OrphanProbe")).toBeUndefined();
    // The full API still has all of it.
    expect(fieldsOf(buildSchema(next.apiSchema), "PartnerProbe")).toEqual(["id", "secret"]);
    expect(next.contracts.partner.markdown).toContain("`partnerProbe`");
  });

  it("fails compose when a contract field has no description", () => {
    const undocumented = `
extend type Query {
  """Documented."""
  undocumentedProbe: UndocumentedProbe @tag(name: "partner")
}
"""Documented type."""
type UndocumentedProbe @tag(name: "partner") {
  id: ID!
}`;
    expect(() => composeFromSdls({ ...composed.subgraphs, catalog: `${composed.subgraphs.catalog}\n${undocumented}` })).toThrow(ContractError);
    expect(() => composeFromSdls({ ...composed.subgraphs, catalog: `${composed.subgraphs.catalog}\n${undocumented}` })).toThrow(/UndocumentedProbe\.id/);
  });

  it("drops a partner field whose type is internal instead of leaking the type", () => {
    const leak = `
"""Internal ledger view."""
type LedgerProbe @tag(name: "internal") {
  """Amount."""
  amount: Int!
}
extend type Query {
  """Tagged partner by mistake, but returns an internal type."""
  ledgerProbe: LedgerProbe @tag(name: "partner")
}`;
    const next = composeFromSdls({ ...composed.subgraphs, wallet: `${composed.subgraphs.wallet}\n${leak}` });
    const contract = buildSchema(next.contracts.partner.apiSchema);
    expect(fieldsOf(contract, "Query")).not.toContain("ledgerProbe");
    expect(contract.getType("LedgerProbe")).toBeUndefined();
  });
});
