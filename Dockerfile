# The relay on Node 20 (the uWebSockets.js binary in use is built for its ABI).
# Debian bookworm matches the glibc the binary was built against.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY migrations ./migrations
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
EXPOSE 3000
USER node
CMD ["node", "--import", "tsx", "src/main.ts"]
