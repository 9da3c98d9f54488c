# taskbolt in a container: a static binary on scratch, run as a non-root
# user, data in /data, health checked by the binary itself (no curl needed).
#
#   docker build -t taskbolt .
#   docker run -p 8000:8000 -v taskbolt-data:/data -e BETTER_AUTH_URL=https://app.example.com taskbolt
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=container
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/taskbolt . \
 && mkdir -p /out/data /out/tmp

FROM scratch
# CA roots for fetching a JWKS over https.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /out/taskbolt /taskbolt
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build --chmod=1777 /out/tmp /tmp
USER 65532:65532
ENV HOST=0.0.0.0 PORT=8000 DATABASE_URL=/data/taskbolt.db TASKBOLT_ENV_FILE=
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=2s CMD ["/taskbolt", "healthcheck"]
ENTRYPOINT ["/taskbolt"]
CMD ["serve"]
