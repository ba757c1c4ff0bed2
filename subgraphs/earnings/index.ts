import "reflect-metadata";
import { startSubgraph, type SubgraphDefinition } from "../../platform/subgraph.js";
import { runMain } from "../../platform/main.js";
import { entities, migrations } from "./db/index.js";
// The schema's modules load first (their order is the SDL's order; transport/stream reaches schema/room-feed.ts).
import { buildEarningsSchema } from "./schema/index.js";
import { creatorLoader } from "./schema/creator.js";
import { currentLiveSessionLoader, liveSessionLoader } from "./schema/live-session.js";
import { leaderboardLoader } from "./schema/leaderboards.js";
import { giftEventLoader } from "./schema/gift-event.js";
import { goalsLoader } from "./schema/goals.js";
import { gifterLevelLoader } from "./schema/engagement.js";
import type { EarningsContext, EarningsServices } from "./schema/context.js";
import { earningsServices, startEarningsBackground, type EarningsPeerUrls } from "./services.js";
import { consumerRoute } from "./transport/gift-credit-consumer.js";
import { earningsSample } from "./transport/metrics.js";
import { attachGiftStream } from "./transport/stream/index.js";

export const earnings: SubgraphDefinition<EarningsServices, EarningsContext> = {
  name: "earnings",
  entities,
  migrations,
  services: (ds) => earningsServices(ds),
  schema: buildEarningsSchema,
  // The live gift stream: graphql-ws on this server's /graphql, fed by one LISTEN connection per process.
  attach: (http, services, schema, verifier, serviceVerifier, config) => attachGiftStream(http, services, schema, verifier, serviceVerifier, (base) => earnings.context(base, services), config),
  routes: (services) => [consumerRoute(services.credits)],
  metrics: earningsSample,
  // The gift.sent consumer (credits diamonds exactly once, batched per host), the partner webhook dispatcher, the payout scheduler.
  background: (services) => startEarningsBackground(services),
  context: (base, services) => {
    const ctx = { ...base, services } as EarningsContext;
    ctx.loaders = {
      creator: creatorLoader(ctx),
      liveSession: liveSessionLoader(ctx),
      currentLiveSession: currentLiveSessionLoader(ctx),
      leaderboard: leaderboardLoader(ctx),
      giftEvent: giftEventLoader(ctx),
      goals: goalsLoader(ctx),
      gifterLevel: gifterLevelLoader(ctx),
    };
    return ctx;
  },
};

/** `peers`: where the catalog answers (default CATALOG_URL); tests start it on a free port first. */
export const startEarnings = (opts: Parameters<typeof startSubgraph>[1] & { peers?: Partial<EarningsPeerUrls> }) =>
  startSubgraph(opts.peers ? { ...earnings, services: (ds) => earningsServices(ds, opts.peers) } : earnings, opts);

runMain(import.meta.url, "earnings", startEarnings);
