import "reflect-metadata";
import { startSubgraph, type SubgraphDefinition } from "../../platform/subgraph.js";
import { runMain } from "../../platform/main.js";
import { loadConfig } from "../../platform/config.js";
import { MoneyRateLimiter } from "../../platform/money-rate-limit.js";
import { entities, migrations } from "./db/index.js";
import { CreatorService } from "./domain/creators.js";
import { LiveSessionService } from "./domain/sessions.js";
import { GiftCreditConsumer, consumerRoute } from "./domain/credits.js";
import { GoalService } from "./domain/goals.js";
import { VideoTotalsService } from "./domain/videos.js";
import { GifterLevelService } from "./domain/levels.js";
import { RankingService } from "./domain/rankings.js";
import { LeaderboardService } from "./domain/leaderboards.js";
import { PayoutService } from "./domain/payouts.js";
import { RevenueShareService } from "./domain/shares.js";
import { PayoutScheduler } from "./domain/payout-scheduler.js";
import { PayoutHoldService } from "./domain/payout-holds.js";
import { loadConsumerPartitions, loadEarningsConfig, loadWebhookConfig } from "./config.js";
import { StatementService } from "./domain/statements.js";
import { OverlayService } from "./domain/overlays.js";
import { leaderboardLoader } from "./schema/earnings.js";
import { buildEarningsSchema } from "./schema/index.js";
import { attachGiftStream, withGiftStream } from "./stream/index.js";
import { creatorLoader } from "./schema/creator.js";
import { currentLiveSessionLoader, liveSessionLoader } from "./schema/live-session.js";
import type { EarningsContext, EarningsServices } from "./schema/context.js";
import { WebhookDispatcher } from "./domain/webhooks/dispatcher.js";
import { WebhookService } from "./domain/webhooks/service.js";
import { loadEventTransport } from "../../platform/config.js";
import { NatsEventLog, openEventLog } from "../../platform/eventlog/index.js";
import { GIFT_SENT } from "../../platform/events.js";
import { FeedRelay } from "./stream/nats-feed.js";
import { earningsSample } from "./metrics.js";
import { earningsPeers, type EarningsPeerUrls } from "./peers.js";
import type { DataSource } from "typeorm";

/** The services of one process; `peers`: where the catalog answers (default CATALOG_URL). */
function earningsServices(ds: DataSource, peers: Partial<EarningsPeerUrls> = {}): EarningsServices {
  return withGiftStream(ds, () => {
    const webhookConfig = loadWebhookConfig();
    const creators = new CreatorService(ds);
    const payouts = new PayoutService(ds, creators, undefined, new MoneyRateLimiter("earnings", loadConfig().moneyRateLimits));
    const config = loadEarningsConfig();
    const partitions = loadConsumerPartitions();
    // NATS_URL: gift.sent arrives over JetStream (relayed from the outbox by this process, one relay active at a time).
    const log = openEventLog(loadEventTransport(), "earnings");
    const nats = log instanceof NatsEventLog ? log : null;
    const { catalog, goalGifts } = earningsPeers(ds, peers);
    return {
      creators,
      sessions: new LiveSessionService(ds, creators),
      credits: new GiftCreditConsumer(ds, { partitions, log }),
      eventLog: log,
      relays: nats ? [nats.relay(ds, { [GIFT_SENT]: partitions }), new FeedRelay(ds, nats)] : [],
      leaderboards: new LeaderboardService(ds),
      payouts,
      shares: new RevenueShareService(ds),
      catalog,
      goals: new GoalService(ds, goalGifts),
      videos: new VideoTotalsService(ds),
      levels: new GifterLevelService(ds),
      rankings: new RankingService(ds),
      webhooks: new WebhookService(ds, webhookConfig),
      webhookDispatcher: webhookConfig.dispatch ? new WebhookDispatcher(ds, { databaseUrl: (ds.options as { url: string }).url, config: webhookConfig }) : null,
      payoutScheduler: new PayoutScheduler(ds, payouts, { scheduleUtc: config.payoutScheduleUtc, batchSize: config.payoutBatchSize, runMax: config.payoutRunMax }),
      payoutHolds: new PayoutHoldService(ds),
      statements: new StatementService(ds),
      overlays: new OverlayService(ds, creators, loadConfig().webAppUrl),
    };
  });
}

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
  // The gift.sent consumer (credits diamonds exactly once, batched per host) and the partner webhook dispatcher.
  background: async (services) => {
    for (const r of services.relays) await r.start();
    // Catalog change notifications for the goals' gift checks (until listening, nothing is cached).
    await services.catalog.start();
    await services.credits.start();
    await services.webhookDispatcher?.start();
    // Daily payout run at PAYOUT_SCHEDULE_UTC (off in tests); catches up on a missed or interrupted slot at start.
    services.payoutScheduler.start();
    return async () => {
      await services.payoutScheduler.stop();
      await services.webhookDispatcher?.stop();
      await services.credits.stop();
      for (const r of services.relays) await r.stop();
      await services.catalog.stop();
      await services.eventLog.close();
    };
  },
  context: (base, services) => {
    const ctx = { ...base, services } as EarningsContext;
    ctx.loaders = {
      creator: creatorLoader(ctx),
      liveSession: liveSessionLoader(ctx),
      currentLiveSession: currentLiveSessionLoader(ctx),
      leaderboard: leaderboardLoader(ctx),
    };
    return ctx;
  },
};

/** `peers`: where the catalog answers (default CATALOG_URL); tests start it on a free port first. */
export const startEarnings = (opts: Parameters<typeof startSubgraph>[1] & { peers?: Partial<EarningsPeerUrls> }) =>
  startSubgraph(opts.peers ? { ...earnings, services: (ds) => earningsServices(ds, opts.peers) } : earnings, opts);

runMain(import.meta.url, "earnings", startEarnings);
