import DataLoader from "dataloader";
import { Ctx, Directive, Field, FieldResolver, ID, Int, ObjectType, Query, Resolver, Root } from "type-graphql";
import { requireSelfOrAdmin, requireUser } from "../../../platform/auth.js";
import type { Balance } from "../domain/accounts.js";
import type { WalletContext } from "./context.js";

@Directive('@tag(name: "internal")')
@ObjectType({ description: "A viewer's coins. Visible only to its owner (and admins)." })
export class Wallet {
  @Field(() => ID, { description: "Stable id for client caches (Apollo, urql Graphcache): one per user, never reused." })
  id: string;

  @Field(() => ID, { description: "The owner's user id." })
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

/** A wallet as the API shows it; `id` is the owner's id (the type name keeps it apart from User's). */
export function walletView(b: Balance): Wallet {
  return Object.assign(new Wallet(), { id: b.userId, userId: b.userId, coins: b.coins, debt: b.debt });
}

export function profileLoader(ctx: Pick<WalletContext, "services">) {
  return new DataLoader((ids: readonly string[]) => ctx.services.profiles.byIds(ids));
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
  async me(@Ctx() ctx: WalletContext): Promise<User> {
    const user = requireUser(ctx.user);
    await ctx.services.profiles.touch(user);
    ctx.loaders.profile.prime(user.id, { userId: user.id, displayName: user.name, avatarUrl: user.avatarUrl ?? null });
    return Object.assign(new User(), { id: user.id });
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => String, {
    description:
      "Public display name: the `name` claim of the user's identity token, as last seen by the platform (when they last signed in to their wallet or sent or bought something). The user id when the platform has never seen one.",
  })
  async displayName(@Root() user: User, @Ctx() ctx: WalletContext): Promise<string> {
    return (await ctx.loaders.profile.load(user.id))?.displayName ?? user.id;
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => String, {
    nullable: true,
    description: "Public avatar image URL (the identity token's `picture` claim, http(s) only), as last seen like displayName; null when none.",
  })
  async avatarUrl(@Root() user: User, @Ctx() ctx: WalletContext): Promise<string | null> {
    return (await ctx.loaders.profile.load(user.id))?.avatarUrl ?? null;
  }

  @Directive('@tag(name: "internal")')
  @FieldResolver(() => Wallet, { nullable: true })
  async wallet(@Root() user: User, @Ctx() ctx: WalletContext): Promise<Wallet> {
    requireSelfOrAdmin(ctx.user, user.id);
    return walletView(await ctx.loaders.balance.load(user.id));
  }
}
