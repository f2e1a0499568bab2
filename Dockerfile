# mailsink as one static binary on an empty image.
#
#   docker build -t mailsink .
#   docker run --rm -p 1025:1025 -p 8025:8025 mailsink
#
# cmd/mailsink/dockerfile_test.go checks this file against the code (ports,
# variables, health check, user), .ci/scratch-check.sh builds the binary
# with the RUN lines below and runs it the way this image would, and
# .ci/docker-check.sh builds and runs the image in a real Docker engine.

# The build stage's image. Any image with Go 1.25 or later and a shell
# works; CI, which reaches no registry, passes one it assembled itself:
#   docker build --build-arg GO_IMAGE=mailsink-builder:local .
ARG GO_IMAGE=golang:1.26-alpine
FROM ${GO_IMAGE} AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (no cgo: scratch has no libc), reproducible paths, no symbol tables.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/mailsink ./cmd/mailsink
# An empty directory for MAILSINK_TLS_DIR, owned by the user below, so that a
# named volume mounted on /tls starts out writable for it.
RUN mkdir -p /out/tls

FROM scratch
# Nothing else is needed: the TLS certificate is generated at start (or kept
# in MAILSINK_TLS_DIR), nothing is dialled out (so no CA bundle), and
# messages live in memory.
COPY --from=build /out/mailsink /mailsink
COPY --from=build --chown=65532:65532 /out/tls /tls
# Any non-root id works; 65532 is the usual "nonroot" one. scratch has no
# /etc/passwd, so it must be numeric.
USER 65532:65532
# The binary binds 127.0.0.1 by default; in a container that is unreachable.
ENV MAILSINK_BIND=0.0.0.0
# 1025 is plaintext with optional AUTH: any mailer sends there with host and
# port alone. Ports below 1024 as non-root: Docker 20.10 and later start every
# container (outside the host network) with
# net.ipv4.ip_unprivileged_port_start=0, so 25 and 465 and 587 just bind.
# Where that is not so (older Docker, rootless podman, --network host, many
# Kubernetes clusters) binding them is refused and, only if MAILSINK_SMTP is
# unset, mailsink falls back to 10025, 10587 and 10465 (1025 and 2525 stay)
# and logs it. To keep the real numbers there, run with
#   --sysctl net.ipv4.ip_unprivileged_port_start=0
# (Kubernetes: securityContext.sysctls), or choose high ports yourself:
#   -e MAILSINK_SMTP=1025:none:optional,10025:starttls:off,10587:starttls-required:required,10465:implicit:required,2525:starttls:optional
EXPOSE 1025 25 587 465 2525 8025
# The binary checks itself (GET /livez on MAILSINK_HTTP_PORT): scratch has
# no shell, curl or wget. It starts in well under a second, and CI services
# (GitHub Actions, testcontainers) wait for "healthy", so check often.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/mailsink", "healthcheck"]
ENTRYPOINT ["/mailsink"]
