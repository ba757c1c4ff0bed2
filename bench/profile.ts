import type { FanoutSpec } from "./scenarios/fanout.js";

/** How long and how hard each scenario runs. `full` is `npm run bench`; `smoke` is CI's few seconds. */
export interface Profile {
  name: "full" | "smoke";
  warmupSec: number;
  readSec: number;
  readConnections: number;
  serialRequests: number;
  senders: number;
  hosts: number;
  coinsPerSender: number;
  sendSec: number;
  sendConnections: number;
  deliveryRates: number[];
  deliverySec: number;
  /**
   * Fan-out runs: viewers in all (split evenly over `rooms`, default 1), whether their query needs the
   * catalog (gift name/image) on every event, and gifts/s per room (default fanoutGiftsPerSec).
   */
  fanout: FanoutSpec[];
  fanoutGiftsPerSec: number;
  fanoutSec: number;
  fanoutPrimeSec: number;
  pgbenchScale: number;
  pgbenchClients: number;
  pgbenchSec: number;
}

export const FULL: Profile = {
  name: "full",
  warmupSec: 3,
  readSec: 10,
  readConnections: 16,
  serialRequests: 2000,
  senders: 200,
  hosts: 50,
  coinsPerSender: 2_500_000,
  sendSec: 15,
  sendConnections: 64,
  deliveryRates: [100, 500, 1000],
  deliverySec: 10,
  fanout: [
    { viewers: 1000, catalogFields: true },
    { viewers: 1000, catalogFields: false },
    { viewers: 5000, catalogFields: false },
    { viewers: 5000, catalogFields: true },
    { viewers: 10_000, catalogFields: false },
    { viewers: 10_000, catalogFields: true },
    { viewers: 10_000, rooms: 100, giftsPerSecPerRoom: 1, catalogFields: false },
    { viewers: 10_000, rooms: 100, giftsPerSecPerRoom: 1, catalogFields: true },
  ],
  fanoutGiftsPerSec: 5,
  fanoutSec: 10,
  fanoutPrimeSec: 60,
  pgbenchScale: 16,
  pgbenchClients: 16,
  pgbenchSec: 15,
};

export const SMOKE: Profile = {
  name: "smoke",
  warmupSec: 1,
  readSec: 1,
  readConnections: 4,
  serialRequests: 50,
  senders: 10,
  hosts: 3,
  coinsPerSender: 10_000,
  sendSec: 1,
  sendConnections: 8,
  deliveryRates: [20],
  deliverySec: 1,
  fanout: [
    { viewers: 20, catalogFields: true },
    { viewers: 20, catalogFields: false },
    { viewers: 20, rooms: 4, giftsPerSecPerRoom: 2, catalogFields: true },
  ],
  fanoutGiftsPerSec: 5,
  fanoutSec: 1,
  fanoutPrimeSec: 20,
  pgbenchScale: 1,
  pgbenchClients: 2,
  pgbenchSec: 2,
};
