FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# DejaVu Sans is embedded in every PDF (reportsvc/reports/fonts.py) so any script a user types prints.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY reportsvc ./reportsvc
RUN pip install --no-cache-dir ".[server]"
COPY app.py ./
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
RUN useradd --create-home --uid 10001 reportsvc && mkdir -p /data/reports /data/s3 && chown -R reportsvc /data
USER reportsvc
ENV STORAGE_DIR=/data/reports APP_PORT=3000
EXPOSE 3000
# granian (WSGI), chosen over gunicorn by CPU per request and req/s (README "Performance"); 64 threads a worker:
# every open console event stream holds a thread (README "Live updates").
CMD ["granian", "--interface", "wsgi", "--host", "0.0.0.0", "--port", "3000", "--workers", "2", "--blocking-threads", "64", "--no-ws", "--access-log", "app:app"]
