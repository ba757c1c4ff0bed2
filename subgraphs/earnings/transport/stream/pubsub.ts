import type { PubSub } from "type-graphql";

/**
 * type-graphql insists on a pubSub once a schema has subscriptions, but ours use
 * `subscribe` functions over the database-backed hub; nothing may publish in-process.
 */
export const noPubSub: PubSub = {
  publish() {
    throw new Error("the gift stream is fed from PostgreSQL (FeedHub), not an in-process pubSub");
  },
  subscribe() {
    throw new Error("the gift stream is fed from PostgreSQL (FeedHub), not an in-process pubSub");
  },
};
