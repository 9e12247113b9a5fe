# Builds the one Rapport binary into a small image; `rapport server` and `rapport worker` run from it.
FROM golang:1.26-bookworm AS build
ENV GOTOOLCHAIN=auto CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags "-s -w" -o /out/rapport ./cmd/rapport

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rapport /usr/local/bin/rapport
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/rapport"]
CMD ["server"]
