import type { GroupCommitObserver } from "../group-commit.js";
import { m } from "./families.js";

const QUEUE_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const SERVICE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * The group_commit_* families of one queue (`queue`: a fixed name in code, e.g. "send_gifts"),
 * counted as its batches run. Queued items and running batches are state: the service reports
 * them at scrape time (`Sample.groupCommits`, from GroupCommit.stats()).
 */
export function groupCommitMetrics(service: string, queue: string): GroupCommitObserver {
  if (!SERVICE_NAME.test(service) || !QUEUE_NAME.test(queue)) throw new Error(`groupCommitMetrics: bad service or queue name ${service}/${queue}`);
  const labels = { service, queue };
  // Children made up front: every series reads 0 from the start (rate() and alerts need no first event).
  const size = m.batchSize.labels(labels);
  const queued = m.batchQueued.labels(labels);
  const batches = m.batches.labels(labels);
  const items = m.batchItems.labels(labels);
  const retries = m.batchRetries.labels(labels);
  const failures = m.batchFailures.labels(labels);
  const splits = m.batchSplits.labels(labels);
  return {
    started: (n, queuedMs) => {
      size.observe(n);
      for (const ms of queuedMs) queued.observe(ms / 1000);
    },
    finished: (n) => {
      batches.inc();
      items.inc(n);
    },
    retried: () => retries.inc(),
    failed: () => failures.inc(),
    split: () => splits.inc(),
  };
}
