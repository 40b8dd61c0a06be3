# The worker as a container. `deno task serve` (long-running, Deno.cron) is
# the default command; `deno task run --month 2021-02` works as a one-off.
FROM denoland/deno:debian-2.9.6

WORKDIR /app
ENV DENO_DIR=/deno-dir

# Dependencies first, cached in their own layer.
COPY deno.json deno.lock* ./
COPY main.ts ./
COPY src/ ./src/
RUN deno install --entrypoint main.ts

COPY config/pipelines.json ./config/pipelines.json
COPY datasets/ ./datasets/

RUN mkdir -p /app/.data && chown -R deno:deno /app /deno-dir
USER deno

# Configuration comes from the environment (see config/.env.example); no secrets are baked in.
CMD ["deno", "task", "run", "--help"]
