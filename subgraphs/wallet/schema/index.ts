import { buildFederatedSchema } from "../../../platform/federation.js";
import { User, UserResolver, userReference } from "./user.js";
import { GiftEvent, GiftEventResolver, WalletTransactionGiftResolver, giftEventReference } from "./gift-event.js";
import { SendGiftResolver } from "./send-gift.js";
import { RechargeOptionsResolver, RechargeResolver } from "./recharge.js";
import { SpendingLimitResolver, WalletPurchaseResolver, WalletTransactionOrderResolver } from "./wallet-purchase.js";

export function buildWalletSchema() {
  return buildFederatedSchema({ resolvers: [UserResolver, GiftEventResolver, SendGiftResolver, RechargeResolver, RechargeOptionsResolver, WalletPurchaseResolver, SpendingLimitResolver, WalletTransactionGiftResolver, WalletTransactionOrderResolver], orphanedTypes: [User, GiftEvent] }, { User: userReference, GiftEvent: giftEventReference });
}
