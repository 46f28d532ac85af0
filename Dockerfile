# Chunk Works gateway image.
#
#   docker build -t chunkworks .
#   docker run -p 9000:9000 -v cw-data:/data chunkworks
#
# The first start creates /data/master.key and /data/credentials.toml and prints the access key
# pair once (or set CHUNKWORKS_ACCESS_KEY / CHUNKWORKS_SECRET_KEY / CHUNKWORKS_MASTER_KEY).
# Back up the master key: without it no object can be read. Config: mount a TOML file and set
# CHUNKWORKS_CONFIG (see config/). Operator jobs run in the same image with the server stopped
# (or from `docker exec`): `chunkworks scrub|heal|gc|recover-index`.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
RUN cargo build --release --locked --bin chunkworks \
 && strip target/release/chunkworks

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home chunkworks \
 && mkdir /data && chown 10001:10001 /data && chmod 0700 /data
COPY --from=build /src/target/release/chunkworks /usr/local/bin/chunkworks
USER 10001:10001
ENV CHUNKWORKS_DATA_DIR=/data \
    CHUNKWORKS_LISTEN=0.0.0.0:9000 \
    CHUNKWORKS_LOG=info
VOLUME /data
EXPOSE 9000
# SIGTERM: stop accepting, finish requests in flight, stop background jobs cleanly
STOPSIGNAL SIGTERM
ENTRYPOINT ["chunkworks"]
CMD ["serve"]
