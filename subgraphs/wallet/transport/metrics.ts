import type { Sample } from "../../../platform/metrics.js";
import { SEND_BATCH_QUEUE } from "../domain/send-batch.js";
import type { WalletServices } from "../schema/context.js";

/**
 * The wallet's state for /metrics (read at most once a second by platform/metrics.ts): sendGift's
 * group commit, sends waiting for a batch and batches running. Its batches, items, retries and
 * sizes are counted as they happen (SendBatcher's observer, platform/metrics/group-commit.ts).
 */
export function walletSample(services: WalletServices): Sample {
  const { queued, inFlight } = services.gifting.batches.stats();
  return { groupCommits: [{ queue: SEND_BATCH_QUEUE, queued, inFlight }] };
}
