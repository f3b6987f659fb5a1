# backprop-service: two stages, so the image holds the virtualenv and nothing that built it.
# The install step is the one `make` and CI run: pinned requirements/runtime.txt, then the
# project itself without dependencies.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY requirements/runtime.txt requirements/runtime.txt
RUN /opt/venv/bin/pip install -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY engine engine
COPY schemas schemas
COPY app app
RUN /opt/venv/bin/pip install --no-deps .

FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000
RUN useradd --no-log-init --system --uid 10001 --no-create-home backprop
COPY --from=build /opt/venv /opt/venv
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['PORT'] + '/healthz', timeout=2)"]
CMD ["backprop-service", "serve"]
