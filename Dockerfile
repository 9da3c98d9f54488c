# taskbolt in a container: the release's static binary on scratch, run as a
# non-root user, data in /data, health checked by the binary itself (no curl
# needed). It copies the binary `make release` built for the image's
# architecture, so one command makes both images (make release prints it,
# and writes it to dist/docker-buildx.sh):
#
#   make release
#   docker buildx build --platform linux/amd64,linux/arm64 -t taskbolt .
#   docker run -p 8000:8000 -v taskbolt-data:/data -e BETTER_AUTH_URL=https://app.example.com taskbolt
#
# The first stage only provides CA roots (for a JWKS over https) and the
# empty /data and /tmp; it runs on the build machine's platform.
FROM --platform=$BUILDPLATFORM debian:bookworm-slim AS base
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && mkdir -p /out/data /out/tmp

FROM scratch
ARG TARGETARCH
COPY --from=base /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --chmod=0755 dist/linux_${TARGETARCH}/taskbolt /taskbolt
COPY --from=base --chown=65532:65532 /out/data /data
COPY --from=base --chmod=1777 /out/tmp /tmp
USER 65532:65532
ENV HOST=0.0.0.0 PORT=8000 DATABASE_URL=/data/taskbolt.db TASKBOLT_ENV_FILE=
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=2s CMD ["/taskbolt", "healthcheck"]
ENTRYPOINT ["/taskbolt"]
CMD ["serve"]
