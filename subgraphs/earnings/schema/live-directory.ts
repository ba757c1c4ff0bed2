import { Arg, Ctx, ID, Int, Query, Resolver } from "type-graphql";
import { badInput } from "../../../platform/errors.js";
import { isUuid, MAX_LIVE_PAGE } from "../domain/sessions.js";
import type { EarningsContext } from "./context.js";
import { LiveSession } from "./live-session.js";
// One connection type for every list of sessions (the creator's history and the live-now directory).
import { LiveSessionConnection, LiveSessionEdge, PageInfo } from "./connections.js";

@Resolver()
export class LiveDirectoryResolver {
  @Query(() => LiveSessionConnection, {
    description:
      "Rooms live now (public, no token needed), busiest first: most coins received in the session so far, then most distinct gifters, " +
      "then id (a stable order for ties). A session whose totals change between two pages may move across the page boundary.",
  })
  async liveSessions(
    @Ctx() ctx: EarningsContext,
    @Arg("first", () => Int, { nullable: true, defaultValue: 20, description: `Page size, 1 to ${MAX_LIVE_PAGE}.` }) first: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string | null,
    @Arg("region", () => String, { nullable: true, description: "Only hosts of this region (two-letter code, e.g. US)." }) region?: string | null,
  ): Promise<LiveSessionConnection> {
    const page = await ctx.services.sessions.listLive(first, after, region);
    for (const row of page.nodes) ctx.loaders.liveSession.prime(row.id, row);
    return Object.assign(new LiveSessionConnection(), {
      edges: page.nodes.map((n, i) => Object.assign(new LiveSessionEdge(), { cursor: page.cursors[i], node: LiveSession.from(n) })),
      pageInfo: Object.assign(new PageInfo(), {
        hasNextPage: page.hasNextPage,
        hasPreviousPage: after != null,
        startCursor: page.cursors[0] ?? null,
        endCursor: page.cursors[page.cursors.length - 1] ?? null,
      }),
    });
  }

  @Query(() => LiveSession, { nullable: true, description: "One live session (room), live or ended, by id (public); null when there is no such session." })
  async liveSession(@Ctx() ctx: EarningsContext, @Arg("id", () => ID, { description: "The live session id." }) id: string): Promise<LiveSession | null> {
    if (id.length === 0 || id.length > 128) throw badInput("id is not a live session id", ["id"]);
    if (!isUuid(id)) return null;
    const row = await ctx.loaders.liveSession.load(id);
    return row ? LiveSession.from(row) : null;
  }
}
