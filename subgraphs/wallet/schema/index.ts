import { buildFederatedSchema } from "../../../platform/federation.js";
// Import order is registration order: type-graphql prints fields (Wallet's, Mutation's) in the order
// their resolvers load, so the committed SDL (schema/) depends on it. Add new modules at the end.
import { User, UserResolver, userReference } from "./user.js";
import { WalletTransactionOrderResolver, WalletTransactionsResolver } from "./transactions.js";
import { WalletRechargeOrdersResolver } from "./recharge-orders.js";
import { SpendingLimitResolver, WalletSpendingLimitResolver } from "./spending-limit.js";
import { GiftEvent, GiftEventResolver, WalletTransactionGiftResolver, giftEventReference } from "./gift-event.js";
import { SendGiftResolver } from "./send-gift.js";
import { RechargeOptionsResolver, RechargeResolver } from "./recharge.js";
import { RechargeOrderRefundsResolver } from "./refunds.js";
import { CoinPackageAdminResolver, CoinPackageFieldResolver } from "./coin-packages.js";

export function buildWalletSchema() {
  return buildFederatedSchema(
    {
      resolvers: [
        UserResolver,
        GiftEventResolver,
        SendGiftResolver,
        RechargeResolver,
        RechargeOptionsResolver,
        WalletTransactionsResolver,
        WalletRechargeOrdersResolver,
        WalletSpendingLimitResolver,
        SpendingLimitResolver,
        WalletTransactionGiftResolver,
        WalletTransactionOrderResolver,
        CoinPackageAdminResolver,
        CoinPackageFieldResolver,
        RechargeOrderRefundsResolver,
      ],
      orphanedTypes: [User, GiftEvent],
    },
    { User: userReference, GiftEvent: giftEventReference },
  );
}
