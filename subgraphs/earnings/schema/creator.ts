import DataLoader from "dataloader";
import { Arg, Ctx, Directive, Field, FieldResolver, ID, ObjectType, Query, Resolver, Root } from "type-graphql";
import { badInput } from "../../common/errors.js";
import type { CreatorRow } from "../db/index.js";
import type { EarningsContext } from "./context.js";

@Directive('@key(fields: "id")')
@ObjectType({ description: "A platform user; the earnings subgraph adds their creator profile." })
export class User {
  @Field(() => ID)
  id: string;
}

@Directive('@key(fields: "id")')
@ObjectType({ description: "A host who receives gifts and earns diamonds." })
export class Creator {
  @Field(() => ID)
  id: string;

  @Field({ description: "Display name when the creator first went live." })
  displayName: string;

  @Field()
  createdAt: Date;

  static from(row: CreatorRow): Creator {
    return Object.assign(new Creator(), { id: row.id, displayName: row.displayName, createdAt: row.createdAt });
  }
}

export function creatorLoader(ctx: Pick<EarningsContext, "services">) {
  return new DataLoader((ids: readonly string[]) => ctx.services.creators.byIds(ids));
}

export const creatorReference = {
  async __resolveReference(ref: { id: string }, ctx: EarningsContext): Promise<Creator | null> {
    const row = await ctx.loaders.creator.load(ref.id);
    return row ? Creator.from(row) : null;
  },
};

export const userReference = {
  __resolveReference(ref: { id: string }): User {
    return Object.assign(new User(), { id: ref.id });
  },
};

@Resolver(() => Creator)
export class CreatorResolver {
  @Query(() => Creator, { nullable: true, description: "A creator's public profile; null when the user has never been a host." })
  async creator(@Ctx() ctx: EarningsContext, @Arg("id", () => ID) id: string): Promise<Creator | null> {
    if (id.length === 0 || id.length > 128) throw badInput("id is not a creator id", ["id"]);
    const row = await ctx.loaders.creator.load(id);
    return row ? Creator.from(row) : null;
  }

  @FieldResolver(() => User, { description: "The user behind the creator profile." })
  user(@Root() creator: Creator): User {
    return Object.assign(new User(), { id: creator.id });
  }
}

@Resolver(() => User)
export class UserCreatorResolver {
  @FieldResolver(() => Creator, { nullable: true, description: "The user's creator profile, when they have been a host." })
  async creatorProfile(@Root() user: User, @Ctx() ctx: EarningsContext): Promise<Creator | null> {
    const row = await ctx.loaders.creator.load(user.id);
    return row ? Creator.from(row) : null;
  }
}
