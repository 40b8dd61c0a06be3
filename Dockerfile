# The long-running worker (`main.ts serve`: Deno.cron schedule, catch-up on
# start, /healthz /readyz /metrics /runs on $PORT), run with `deno run` and the
# permission flags of the `serve` task in deno.json. One-off runs use the same
# image and the same volume (see README, "Container"):
#   docker run --rm -v events-state:/var/lib/etl IMAGE deno run \
#     --allow-read --allow-write --allow-env --allow-net --allow-ffi --allow-sys \
#     main.ts run --month 2021-02
#
# Configuration comes from the environment at run time (see
# config/.env.example); no secret and no local data is baked into the image.
FROM denoland/deno:debian-2.9.6

WORKDIR /app

# All writable state lives under ONE volume, /var/lib/etl:
#   /var/lib/etl/warehouse       embedded PGlite warehouse (PGLITE_DIR) and
#   /var/lib/etl/warehouse.lock  its lock file
#   /var/lib/etl/data            the local source (DATA_DIR): months to load,
#                                processed/ and errors/ zones
# DATA_DIR starts empty: the sample months shipped in /app/samples are loaded
# only when copied there on purpose (README), never into a real warehouse by
# accident. HOST=0.0.0.0: the worker binds 127.0.0.1 by default, which a
# published port cannot reach. NO_COLOR keeps colour codes out of the log.
# DENO_V8_FLAGS: V8 does not read the container's memory limit (it sized its
# heap at 4 GiB inside --memory=512m), so the JS heap is capped at 256 MiB
# (352 MiB with the young generation): it collects garbage, including dead
# WebAssembly memories, instead of growing into the limit. Raise it with
# `-e DENO_V8_FLAGS=--max-old-space-size=N` when giving the container more.
# POLARS_MAX_THREADS: Polars sizes its pools from the host's cores, not the
# container's limits; 16 threads were killed at 512m on a 1 GB month while 2-8
# fit (README). Raise it together with --memory on a big host.
ENV PORT=8080 \
    POLARS_MAX_THREADS=4 \
    HOST=0.0.0.0 \
    DATA_DIR=/var/lib/etl/data \
    PGLITE_DIR=/var/lib/etl/warehouse \
    NO_COLOR=1 \
    DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1 \
    DENO_V8_FLAGS=--max-old-space-size=256

# The volume path exists and belongs to the worker's uid, so a new named
# volume starts out owned by it. Nothing else in /app is writable.
RUN mkdir -p /var/lib/etl/data \
 && chown -R deno:deno /var/lib/etl

# The base image's /deno-dir (DENO_DIR) already belongs to `deno`: installing
# as `deno` writes the cache once (no second copy from a `chown -R`).
USER deno

# Dependencies first, from the import map and the lock only, so a code edit
# never re-downloads them. --frozen fails the build when deno.lock is stale.
# Deno caches every npm package of the lock, whatever the entry point: the
# test-only ones stay (s3rver, fauxqs, @aws-sdk/client-sqs and what only they
# use: 132 packages, ~31 MB), since Deno refuses to start when a package of
# the lock is missing from the cache. Not knowing the libc, it also caches both
# Linux x64 Polars libraries: the musl one (~110 MB) is never loaded on this
# glibc image, so its binary is dropped in the same layer (the package folder
# and package.json stay, which is all Deno checks).
# An optional build secret `build_ca` (a PEM bundle) is trusted during this
# step only, for builds behind a TLS-intercepting proxy; it never reaches the
# image.
COPY deno.json deno.lock ./
RUN --mount=type=secret,id=build_ca,uid=1993 \
    if [ -s /run/secrets/build_ca ]; then export DENO_CERT=/run/secrets/build_ca; fi \
 && deno install --frozen \
 && rm -f /deno-dir/npm/registry.npmjs.org/nodejs-polars-linux-*-musl/*/*.node

# An empty, initialised embedded warehouse at PGLITE_DIR. Docker and podman
# copy it into a NEW named volume on first mount, so the first start opens a
# warehouse instead of running PGlite's initdb, which holds two PostgreSQL
# WebAssembly instances at once and peaks at ~750 MB (more than a 512 MiB
# container). Bind mounts and other volume types do not get it (README).
RUN deno eval --cached-only \
    "import { PGlite } from '@electric-sql/pglite'; await (await PGlite.create(Deno.env.get('PGLITE_DIR'))).close();" \
 && chmod -R go-w "$PGLITE_DIR"

# Configuration and the sample months (read-only, root-owned; see README
# for loading them on purpose), then the code, type-checked against the cache
# (no network): a code edit rebuilds only these last two layers.
COPY config/pipelines.json ./config/pipelines.json
COPY config/models/ ./config/models/
COPY datasets/2021/ ./samples/2021/
COPY datasets/reference/ ./samples/reference/
COPY main.ts ./
COPY src/ ./src/
RUN deno check --cached-only --frozen main.ts

VOLUME ["/var/lib/etl"]
EXPOSE 8080

# bash's /dev/tcp instead of `deno eval`: no second Deno process (~45 MB)
# inside the memory limit every 30 s.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT:-8080} && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]

# `deno run` directly (no `deno task` banner, no --env-file warning), with the
# permission flags of the `serve` task. --cached-only: never download at start.
CMD ["deno", "run", "--cached-only", "--allow-read", "--allow-write", "--allow-env", "--allow-net", "--allow-ffi", "--allow-sys", "main.ts", "serve"]
