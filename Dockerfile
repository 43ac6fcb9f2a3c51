# One image for every service: docker build --build-arg SERVICE=intake .
FROM python:3.11-slim
ARG SERVICE=intake
ENV SERVICE=${SERVICE} PYTHONUNBUFFERED=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
COPY tools tools
COPY deploy/config deploy/config
RUN uv sync --all-packages --frozen --no-dev
ENV PATH=/app/.venv/bin:$PATH
CMD ["sh", "-c", "exec python -m ${SERVICE}"]
