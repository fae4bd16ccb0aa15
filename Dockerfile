# shipcrew's own image: the web process and the workers (same image, different command).
# Multi-stage: dependencies are built once in `build`, the final stage copies the venv only.
# The linters the crew runs (actionlint, hadolint, zizmor, Helm's SDK) are pip packages and
# land in /opt/venv/bin with everything else. Pin the base by digest in your registry mirror
# (`python:3.11.14-slim-bookworm@sha256:...`) if your policy requires it.
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"
# Dependencies first: cached until pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb')); print('\n'.join(d['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
COPY app ./app
COPY jobs ./jobs
COPY policies ./policies
COPY workflow_templates ./workflow_templates
COPY app.yml ./
# Editable: the App finds policies/ and workflow_templates/ beside its package (app/__init__.py).
RUN pip install --no-deps -e . && python -m compileall -q app jobs

FROM python:3.11.14-slim-bookworm
ENV PATH="/opt/venv/bin:$PATH" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    STATE_DIR=/tmp/shipcrew
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
USER 10001:10001
EXPOSE 3000
# `shipcrew worker` for the workers; the web process needs REDIS_URL (no embedded Redis).
CMD ["shipcrew", "web", "--host", "0.0.0.0", "--port", "3000"]
