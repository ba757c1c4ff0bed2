import { buildFederatedSchema } from "../../../platform/federation.js";
import { User, UserResolver, userReference } from "./user.js";
import { GiftEvent, GiftEventResolver, WalletTransactionGiftResolver, giftEventReference } from "./gift-event.js";
import { SendGiftResolver } from "./send-gift.js";
import { RechargeOptionsResolver, RechargeResolver } from "./recharge.js";
import { RechargeOrderRefundsResolver } from "./refunds.js";
import { CoinPackageAdminResolver, CoinPackageFieldResolver } from "./coin-packages.js";
import { SpendingLimitResolver, WalletPurchaseResolver, WalletTransactionOrderResolver } from "./wallet-purchase.js";

export function buildWalletSchema() {
  return buildFederatedSchema({ resolvers: [UserResolver, GiftEventResolver, SendGiftResolver, RechargeResolver, RechargeOptionsResolver, WalletPurchaseResolver, SpendingLimitResolver, WalletTransactionGiftResolver, WalletTransactionOrderResolver, CoinPackageAdminResolver, CoinPackageFieldResolver, RechargeOrderRefundsResolver], orphanedTypes: [User, GiftEvent] }, { User: userReference, GiftEvent: giftEventReference });
}
