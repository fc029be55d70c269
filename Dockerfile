# The relay on Node 20 (the uWebSockets.js binary in use is built for its ABI).
# Debian bookworm matches the glibc the binary was built against.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY migrations ./migrations
# One bundle of the relay's own code (packages stay in node_modules), as `npm start` builds it.
RUN npm run -s build
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
# The WebSocket port, then /metrics (METRICS_HOST must be set to 0.0.0.0 for a scraper outside the container).
EXPOSE 3000 9091
# The image's `node` user, by number: Kubernetes' runAsNonRoot can check a number without reading /etc/passwd.
USER 1000:1000
CMD ["node", "--enable-source-maps", "dist/main.js"]
