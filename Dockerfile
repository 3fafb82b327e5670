# One image for every Himaya process; docker-compose.yml picks the command per service.
FROM python:3.11-slim AS base
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir uv==0.13.8 && useradd --system --uid 10001 himaya
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY shared ./shared
COPY services ./services
# The workspace's own project depends on every runtime package; --no-dev leaves out the dev group and with it
# tools/himaya-dev (the embedded PostgreSQL, the test plugin), which is not copied in either.
RUN uv sync --frozen --no-dev
USER himaya
EXPOSE 8000 8001 8002 8003
