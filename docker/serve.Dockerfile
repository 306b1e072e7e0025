# The serving image of one flow. Build context: `llmops flow build-context <flow> --output <dir>` writes
# app/ (the packed llmops CLI and its Python worker), flow/ (variant applied, additional_includes merged),
# connections/ (secrets as ${env:<CONN>_<KEY>}), requirements.txt and start.sh next to this file.
#
#   docker build -t my-flow <dir>
#   docker run -p 8080:8080 -e AOAI_API_KEY=... -e AOAI_API_BASE=... my-flow
#
# Probes: GET /health (liveness/readiness), scoring POST /score, port 8080 — the contract Azure ML managed
# endpoints, Kubernetes and App Service (WEBSITES_PORT=8080) expect from a Prompt Flow image.
FROM node:24-bookworm-slim

# python3 runs the flow's own Python code (python nodes, flex entries) through llmops' worker; no promptflow
# package is installed — the worker ships the small promptflow shim the flow code imports.
# tini forwards SIGTERM to node, which then drains in-flight requests before exiting.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# The flow's requirements go in a virtual environment (Debian's system Python refuses pip installs).
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv \
 && if [ -s /tmp/requirements.txt ]; then /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt; fi \
 && rm /tmp/requirements.txt

COPY app/ /app/
COPY flow/ /flow/
COPY connections/ /connections/
COPY start.sh /start.sh

ENV PATH=/opt/venv/bin:$PATH \
    NODE_ENV=production \
    PORT=8080 \
    PROMPTFLOW_RUN_MODE=serving

# The node image's unprivileged user; the flow folder stays read-only to it.
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"

ENTRYPOINT ["/usr/bin/tini", "--", "/start.sh"]
