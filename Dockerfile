# One image for every service; docker-compose picks the entry point.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# operator data read at start (the wallet refuses to start without its moderation list)
COPY --from=build /app/subgraphs/wallet/domain/moderation-words.txt ./dist/subgraphs/wallet/domain/
COPY --from=build /app/schema ./schema
COPY --from=build /app/assets ./assets
COPY package.json ./
USER node
