# Sportello API image. Build: docker build -t sportello .
# Run:   docker run -p 8000:8000 -e SPORTELLO_DATABASE_URL=postgresql+asyncpg://... sportello
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SPORTELLO_STORAGE_DIR=/data/attachments \
    SPORTELLO_DATABASE_URL=sqlite+aiosqlite:////data/sportello.db

WORKDIR /srv/sportello
RUN useradd --system --uid 10001 --home-dir /srv/sportello sportello \
    && mkdir -p /data && chown sportello /data

# Dependencies first (cached while only the code changes), then the code.
COPY pyproject.toml README.md ./
COPY app/__init__.py app/__init__.py
RUN pip install . && pip uninstall -y sportello
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
RUN pip install --no-deps -e .

USER sportello
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz').status == 200 else 1)"
CMD ["sportello", "serve", "--host", "0.0.0.0", "--port", "8000"]
