# The same environment as scripts/setup.sh, in a container.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends chromium make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
ENV VENV=/opt/venv WEBAGENT_CHROMIUM=/usr/bin/chromium
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && python -m venv --system-site-packages /opt/venv \
    && scripts/setup.sh
ENV PATH=/opt/venv/bin:$PATH
CMD ["make", "demo"]
