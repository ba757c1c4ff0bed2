import type { DataSource } from "typeorm";
import { CatalogClient, CatalogUnavailableError } from "../catalog/transport/owner-reads-client.js";
import { loadConfig, loadEventTransport } from "../../platform/config.js";
import { UnavailableError } from "../../platform/errors.js";
import { NatsEventLog, openEventLog } from "../../platform/eventlog/index.js";
import { GIFT_SENT } from "../../platform/events.js";
import { MoneyRateLimiter } from "../../platform/money-rate-limit.js";
import { ServiceSigner } from "../../platform/service-auth.js";
import { loadConsumerLingerMs, loadConsumerPartitions, loadEarningsConfig, loadWebhookConfig } from "./config.js";
import { CreatorService } from "./domain/creators.js";
import { GoalService, type GoalGiftCatalog } from "./domain/goals.js";
import { LeaderboardService } from "./domain/leaderboards.js";
import { GifterLevelService } from "./domain/levels.js";
import { OverlayService } from "./domain/overlays.js";
import { PayoutHoldService } from "./domain/payout-holds.js";
import { PayoutScheduler } from "./domain/payout-scheduler.js";
import { PayoutService } from "./domain/payouts.js";
import { RankingService } from "./domain/rankings.js";
import { LiveSessionService } from "./domain/sessions.js";
import { RevenueShareService } from "./domain/shares.js";
import { StatementService } from "./domain/statements.js";
import { VideoTotalsService } from "./domain/videos.js";
import { WebhookDispatcher } from "./domain/webhooks/dispatcher.js";
import { WebhookService } from "./domain/webhooks/service.js";
import type { EarningsServices } from "./schema/context.js";
import { GiftCreditConsumer } from "./transport/gift-credit-consumer.js";
import { withGiftStream } from "./transport/stream/index.js";
import { FeedRelay } from "./transport/stream/nats-feed.js";

/** Where the owners earnings reads from answer: the catalog (default CATALOG_URL; tests start it on a free port). */
export interface EarningsPeerUrls {
  catalog: string;
}

/** The services of one process (index.ts `services`); `peers` overrides the owners' URLs. */
export function earningsServices(ds: DataSource, peers: Partial<EarningsPeerUrls> = {}): EarningsServices {
  return withGiftStream(ds, () => {
    const webhookConfig = loadWebhookConfig();
    const creators = new CreatorService(ds);
    const payouts = new PayoutService(ds, creators, undefined, new MoneyRateLimiter("earnings", loadConfig().moneyRateLimits));
    const config = loadEarningsConfig();
    const partitions = loadConsumerPartitions();
    // NATS_URL: gift.sent arrives over JetStream (relayed from the outbox by this process, one relay active at a time).
    const log = openEventLog(loadEventTransport(), "earnings");
    const nats = log instanceof NatsEventLog ? log : null;
    const { catalog, goalGifts } = catalogReads(ds, peers);
    return {
      creators,
      sessions: new LiveSessionService(ds, creators),
      credits: new GiftCreditConsumer(ds, { partitions, log, lingerMs: loadConsumerLingerMs() }),
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

/**
 * The earnings subgraph's owner reads: LIVE goals with a giftId ask the catalog whether the gift
 * exists and is active, through the catalog's own client (subgraphs/catalog/transport/owner-reads-client.ts:
 * HTTP GraphQL signed as "earnings", cached, invalidated by the catalog's NOTIFY) — never its tables.
 */
function catalogReads(ds: DataSource, urls: Partial<EarningsPeerUrls>): { catalog: CatalogClient; goalGifts: GoalGiftCatalog } {
  const config = loadConfig();
  const databaseUrl = (ds.options as { url?: string }).url;
  if (!databaseUrl) throw new Error("earnings: the DataSource has no url to LISTEN on for catalog invalidations");
  const catalog = new CatalogClient({ url: urls.catalog ?? config.subgraphUrls.catalog, databaseUrl, signer: new ServiceSigner(config, "earnings") });
  return {
    catalog,
    goalGifts: {
      async goalGift(giftId, region, authorization) {
        try {
          return await catalog.giftForSending(giftId, region, authorization);
        } catch (e) {
          if (!(e instanceof CatalogUnavailableError)) throw e;
          throw new UnavailableError("the catalog is temporarily unavailable; nothing was changed, retry", e);
        }
      },
    },
  };
}

/** The background hook: relays, the catalog listener, the gift.sent consumer, the webhook dispatcher and the payout scheduler; returns the stopper. */
export async function startEarningsBackground(services: EarningsServices): Promise<() => Promise<void>> {
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
}
