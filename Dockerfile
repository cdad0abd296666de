# syntax=docker/dockerfile:1
#
# warta container image: build with the Rust toolchain alone (protox compiles the
# protos, so no protoc; rustls, so no OpenSSL), run on distroless as uid 65532.
#
#   docker build -t warta:0.1.0 .
#   docker run --rm -p 50051:50051 -p 9090:9090 -e WARTA_METRICS_ADDR=0.0.0.0:9090 warta:0.1.0
#
# The default topic and entity models are embedded in the binary, so `serve` needs no
# files. To use a trained model, mount it and point WARTA_MODEL at it:
#
#   docker run --rm -p 50051:50051 -v "$PWD/models:/models:ro" \
#     -e WARTA_MODEL=/models/topic.warta warta:0.1.0
#
# Baking a model into the image (no --build-arg needed): put the model file at
# models/topic.warta in the build context and build the optional `with-model` stage:
#
#   docker build --target with-model -t warta:0.1.0-model .
#
# A plain `docker build` targets the last stage (`runtime`) and, with BuildKit (the
# default builder since Docker 23), never touches `with-model`, so models/ may be absent.
# To train the model during the build instead, add a stage such as
#   FROM builder AS trained
#   COPY training/ /training/
#   RUN /src/target/release/warta train --data /training/topics.jsonl --out /topic.warta
# and change the COPY in `with-model` to `COPY --from=trained /topic.warta /models/topic.warta`.

############################ builder ############################
FROM rust:1-bookworm AS builder
WORKDIR /src
# Cargo features of the binary, e.g. `--build-arg FEATURES=mimalloc` (about 10% less CPU per
# call, about 80% more memory; README, Deployment) or `FEATURES=otlp,mimalloc`.
ARG FEATURES=""

# 1. Dependencies only, cached until Cargo.toml / Cargo.lock change. Stub targets stand
#    in for the real sources: the [[bench]] entries must exist for Cargo to read the
#    manifest, and a stub build.rs makes Cargo build the build-dependencies too.
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
RUN mkdir -p src benches \
    && echo 'fn main() {}' > build.rs \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && for b in topic ner grpc_load; do echo 'fn main() {}' > "benches/$b.rs"; done \
    && cargo build --release --locked --features "$FEATURES" \
    && rm -rf build.rs src benches \
              target/release/warta target/release/warta.d \
              target/release/.fingerprint/warta-* \
              target/release/build/warta-* \
              target/release/deps/warta-* \
              target/release/deps/libwarta-*

# 2. The crate itself. (Its fingerprints were removed above, so it is rebuilt whatever
#    the file timestamps say.)
COPY build.rs ./
COPY proto ./proto
COPY data ./data
COPY benches ./benches
COPY src ./src
RUN cargo build --release --locked --features "$FEATURES" \
    && ./target/release/warta --version

############################ runtime ############################
# distroless/cc: glibc + libgcc, no shell, no package manager; `:nonroot` = uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime

LABEL org.opencontainers.image.title="warta" \
      org.opencontainers.image.description="gRPC microservice that classifies news articles by topic and extracts the facts inside them" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=builder /src/target/release/warta /usr/local/bin/warta

USER 65532:65532
# Listen on all interfaces inside the container (the binary's default is 127.0.0.1),
# and log JSON lines for log shippers. Metrics stay off unless WARTA_METRICS_ADDR is set
# (e.g. 0.0.0.0:9090, as the Kubernetes ConfigMap does).
ENV WARTA_ADDR=0.0.0.0:50051 \
    WARTA_LOG_FORMAT=json
# 50051: gRPC (+ grpc.health.v1, reflection); 9090: Prometheus /metrics when enabled.
EXPOSE 50051 9090
# No HEALTHCHECK: there is no shell or probe binary in the image; Kubernetes uses its
# native gRPC probes against grpc.health.v1.Health instead (deploy/k8s/deployment.yaml).
# SIGTERM drains gracefully; SIGHUP reloads the --model / WARTA_MODEL file.
ENTRYPOINT ["/usr/local/bin/warta"]
CMD ["serve"]

############################ optional: model baked in ############################
# Built only with `--target with-model`; needs models/topic.warta in the build context.
FROM runtime AS with-model
COPY models/topic.warta /models/topic.warta
ENV WARTA_MODEL=/models/topic.warta

############################ default target ############################
# Kept last so that a plain `docker build` produces the image without a baked-in model.
FROM runtime
