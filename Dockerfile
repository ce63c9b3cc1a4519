# mqbroker (with mqpub and mqsub) in a container: a static binary on an
# empty base, run as a non-root user, persistence in the /data volume.
#
#   docker build --build-arg VERSION="$(git describe --tags --always)" -t mqkit .
#   docker run -d -p 1883:1883 -p 8080:8080 -v mqdata:/data mqkit
#   docker run -d -p 1883:1883 -v "$PWD/conf:/config:ro" -v mqdata:/data mqkit -c /config/mqbroker.conf
#
# The build needs only the Go module proxy (go mod download) beyond the
# base images. The default command accepts anonymous clients on 1883
# (MQTT) and 8080 (WebSocket, path /mqtt): give a configuration file, or
# --user NAME:PASSWORD, for anything reachable by others. The health check
# is a round trip through the broker (mqpub --ping); with logins, put
# "-u USER -P PASSWORD" in /home/mqkit/.config/mqpub (mqpub's options file).

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=
ENV CGO_ENABLED=0
RUN make build VERSION="$VERSION" \
 && mkdir -p /out/data /out/home/mqkit/.config /out/etc \
 && echo 'mqkit:x:10001:10001:mqkit:/home/mqkit:/sbin/nologin' >/out/etc/passwd \
 && echo 'mqkit:x:10001:' >/out/etc/group

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/etc/passwd /out/etc/group /etc/
COPY --from=build /src/bin/mqbroker /src/bin/mqpub /src/bin/mqsub /usr/local/bin/
COPY --from=build --chown=10001:10001 /out/data /data
COPY --from=build --chown=10001:10001 /out/home/mqkit /home/mqkit
USER 10001:10001
ENV HOME=/home/mqkit
WORKDIR /data
VOLUME /data
EXPOSE 1883 8883 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=5s \
  CMD ["/usr/local/bin/mqpub", "--ping", "--repeat", "1", "-W", "5", "-h", "127.0.0.1", "-p", "1883", "-q", "1"]
ENTRYPOINT ["/usr/local/bin/mqbroker"]
CMD ["--listen", "mqtt://:1883", "--listen", "ws://:8080/mqtt", "--data", "/data", "--anonymous"]
