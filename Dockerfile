# The `kubectl mirror watch` controller image (deploy/deployment.yaml runs it).
#   docker build -t ghcr.io/kubectl-mirror/kubectl-mirror:v0.1.0 .
# The same image runs any other command: docker run IMAGE render /work

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY kubectl_mirror ./kubectl_mirror
# Byte-compiled at install time: the root filesystem is read-only at run time. With the
# [postgres] extra (psycopg 3, binary wheels), so a ConfigMirror's spec.database works as is.
RUN pip install --no-cache-dir --root-user-action=ignore --prefix=/install ".[postgres]"

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /install /usr/local
# 65532 is the conventional "nonroot" uid (distroless); the Deployment's runAsUser matches it.
RUN groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --home-dir /home/nonroot --create-home nonroot
USER 65532:65532
WORKDIR /home/nonroot
EXPOSE 8080 8081
ENTRYPOINT ["kubectl-mirror"]
CMD ["watch", "-A"]
