# The llmops CLI image, for Jenkins (`agent { docker { image 'llmops-cli' } }`) and any other CI.
#
# Build from the repository root, after `npm pack` has produced llmops-<version>.tgz:
#   npm pack && docker build -f docker/cli.Dockerfile -t llmops-cli .
#
# No ENTRYPOINT on purpose: Jenkins' Docker Pipeline plugin starts the container with `cat` and
# runs each `sh` step through `docker exec`; an entrypoint that does not exec its arguments
# would kill the container. CMD only says what `docker run llmops-cli` does on its own.
FROM node:24-slim

# python3 runs the flows' own Python code (python nodes, flex entries) through llmops' worker;
# never `pip install promptflow`. git lets `llmops` resolve baselines from history.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 git ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# The packed CLI (dist/, schemas/, the Python worker) and its production dependencies only.
COPY llmops-*.tgz /tmp/
RUN npm install --global --omit=dev /tmp/llmops-*.tgz \
 && rm /tmp/llmops-*.tgz \
 && npm cache clean --force \
 && llmops --version

# Jenkins runs steps as its own uid: a writable HOME for caches, and no root-owned workspace files.
# A 16 MB young generation (Node 24 commits up to ~130 MB for it by default) keeps a million-line bulk-run,
# evaluate or report under 300 MB at about the same CPU time (bench/README-million.md).
ENV HOME=/tmp \
    LLMOPS_IN_CONTAINER=1 \
    NODE_OPTIONS=--max-semi-space-size=16
USER node
WORKDIR /workspace

CMD ["llmops", "--help"]
