# salesbot's API image: the uv workspace installed into a virtualenv, served by `salesbot serve`.
# Build: docker build -t salesbot .   Run: see compose.yaml (needs DATABASE_URL and JWT secrets).

FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

# Dependencies first, from the lock file only, so code changes reuse this layer.
COPY pyproject.toml uv.lock ./
COPY packages/salesbot_core/pyproject.toml packages/salesbot_core/
COPY packages/salesbot_postgres/pyproject.toml packages/salesbot_postgres/
COPY packages/salesbot_openai/pyproject.toml packages/salesbot_openai/
COPY packages/salesbot_http/pyproject.toml packages/salesbot_http/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace

# Then the workspace packages themselves, installed as wheels (not editable links to /src).
COPY packages ./packages
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable


FROM python:3.11-slim
RUN useradd --create-home --uid 10001 salesbot
COPY --from=build --chown=salesbot:salesbot /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /home/salesbot
USER salesbot
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '3000')}/health\", timeout=4)"]
CMD ["salesbot", "serve"]
