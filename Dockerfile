# The long-running worker: `deno task serve` (Deno.cron schedule, catch-up on
# start, /healthz /readyz /metrics /runs on $PORT). The command is exactly the
# one tests/serve_test.ts starts. One-off runs work too:
#   docker run --env-file config/.env IMAGE deno task run --month 2021-02
#
# Configuration comes from the environment at run time (see
# config/.env.example); no secret is baked into the image.
FROM denoland/deno:debian-2.9.6

WORKDIR /app
ENV DENO_DIR=/deno-dir \
    PORT=8080

# Dependencies first, in their own cached layer: the import map, the lock
# file and the sources decide what is downloaded (npm packages, including the
# Polars native library for linux-x64).
COPY deno.json deno.lock ./
COPY main.ts ./
COPY src/ ./src/
RUN deno install --entrypoint main.ts && deno check main.ts

COPY config/pipelines.json ./config/pipelines.json
COPY datasets/ ./datasets/

# Run as the image's unprivileged user; .data holds the embedded warehouse
# (mount a volume there, or configure PostgreSQL/Redshift).
RUN mkdir -p /app/.data /app/config && chown -R deno:deno /app /deno-dir
USER deno
VOLUME ["/app/.data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch(`http://127.0.0.1:${Deno.env.get('PORT') ?? '8080'}/healthz`); Deno.exit(r.ok ? 0 : 1)"]

CMD ["deno", "task", "serve"]
