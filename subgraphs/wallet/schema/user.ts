import DataLoader from "dataloader";
import { Ctx, Directive, Field, FieldResolver, ID, Int, ObjectType, Query, Resolver, Root } from "type-graphql";
import { requireSelfOrAdmin, requireUser } from "../../../platform/auth.js";
import type { WalletContext } from "./context.js";

@Directive('@tag(name: "internal")')
@ObjectType({ description: "A viewer's coins. Visible only to its owner (and admins)." })
export class Wallet {
  @Field(() => ID)
  userId: string;

  @Field(() => Int, { description: "Spendable coins." })
  coins: number;

  @Field(() => Int, { description: "Coins owed after a refund or chargeback of coins already spent; sending is blocked while > 0." })
  debt: number;
}

@Directive('@key(fields: "id")')
@ObjectType({ description: "A platform user, identified by the identity provider's subject." })
export class User {
  @Field(() => ID, { description: "The user's id (the identity provider's subject)." })
  id: string;
}

export function balanceLoader(ctx: Pick<WalletContext, "services">) {
  return new DataLoader((ids: readonly string[]) => ctx.services.accounts.balances(ids));
}

export const userReference = {
  __resolveReference(ref: { id: string }): User {
    return Object.assign(new User(), { id: ref.id });
  },
};

@Resolver(() => User)
export class UserResolver {
  @Query(() => User, { nullable: true, description: "The caller." })
  me(@Ctx() ctx: WalletContext): User {
    const user = requireUser(ctx.user);
    return Object.assign(new User(), { id: user.id });
  }

  @Directive('@tag(name: "internal")')
  @FieldResolver(() => Wallet, { nullable: true })
  async wallet(@Root() user: User, @Ctx() ctx: WalletContext): Promise<Wallet> {
    requireSelfOrAdmin(ctx.user, user.id);
    const b = await ctx.loaders.balance.load(user.id);
    return Object.assign(new Wallet(), b);
  }
}
