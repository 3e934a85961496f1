# Sportello API image. Build: docker build -t sportello .
# Run:   docker run -p 8000:8000 -e SPORTELLO_DATABASE_URL=postgresql+asyncpg://... sportello
# The base image is pinned to a patch release and a Debian release, so a rebuild gets the
# same Python; move the pin on purpose (and run the suite) to take security updates.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SPORTELLO_STORAGE_DIR=/data/attachments \
    SPORTELLO_DATABASE_URL=sqlite+aiosqlite:////data/sportello.db

WORKDIR /srv/sportello
# var/: the relative defaults that /data does not replace (var/metrics, which
# `sportello serve --workers N` uses by itself) must be writable by the user too.
RUN useradd --system --uid 10001 --home-dir /srv/sportello sportello \
    && mkdir -p /data /srv/sportello/var && chown sportello /data /srv/sportello/var

# Dependencies first, at the versions of constraints.txt (cached while only the code
# changes); then the package itself, installed (not editable) from a build directory that
# is removed, so the image runs the installed code only.
COPY pyproject.toml README.md constraints.txt /tmp/build/
COPY app/__init__.py /tmp/build/app/__init__.py
# The [s3] extra: attachments in object storage when SPORTELLO_STORAGE_URL says so (deploy/).
RUN pip install -c /tmp/build/constraints.txt "/tmp/build[s3]" && pip uninstall -y sportello
COPY app /tmp/build/app
RUN pip install --no-deps /tmp/build && rm -rf /tmp/build
# The migrations are read from the working directory (app/db/migrate.py).
COPY alembic.ini ./
COPY migrations ./migrations

USER sportello
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status == 200 else 1)"
CMD ["sportello", "serve", "--host", "0.0.0.0", "--port", "8000"]
