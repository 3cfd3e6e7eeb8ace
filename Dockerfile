# scn serve in a container: the API, the engine and the sender on an SQLite file in the
# /data volume, serving the workspace mounted at /workspace (or, without one, the
# workspace stored in the database). Settings come from the environment (docs/runtime.md):
#
#   docker build -t scn .
#   docker run -p 8000:8000 -v "$PWD/examples:/workspace:ro" -v scn-data:/data \
#       -e SCN_API_KEY=change-me -e SCN_SMTP_URL=smtp://mail.example.com:587 scn
#
# The PostgreSQL store (many engines on one database) is not built yet: SCN_DB names an
# SQLite file.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY scn ./scn
COPY grammar ./grammar
COPY interpreter ./interpreter
COPY server ./server
COPY stdlib ./stdlib
RUN pip install . && rm -rf /src

# A user of its own: nothing in the container runs as root.
RUN useradd --create-home --uid 10001 scn && mkdir -p /data /workspace && chown scn /data
USER scn
WORKDIR /data
VOLUME ["/data"]

ENV SCN_DB=/data/scn.db \
    SCN_HOST=0.0.0.0 \
    SCN_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
ENTRYPOINT ["scn", "serve"]
CMD ["/workspace"]
