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
# Then what only installing needs goes: pip and setuptools, and the libraries' own test suites
# (SciPy's, SymPy's and NumPy's: about 90 MB). make image-test checks that none of it is left.
RUN /opt/venv/bin/pip install --no-deps . \
 && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
 && find /opt/venv -depth -type d -name tests -exec rm -rf {} +

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
# The first check runs one interval after the start (Docker engines before 25 have no
# --start-interval), so a 10 s interval reports a healthy container about 10 s after it starts.
HEALTHCHECK --interval=10s --timeout=7s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['PORT'] + '/readyz', timeout=6)"]
CMD ["backprop-service", "serve"]
