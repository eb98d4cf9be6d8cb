#!/usr/bin/env bash
# Builds the Strata image (default tag strata:latest) from the Debian package:
#   docker/build-image.sh build-deb/strata_0.1.0_amd64.deb [tag]
# `make image` builds the package and runs this. The base image comes from
# docker/base-image.sh (debootstrap; no registry needed).
set -euo pipefail
deb=$(realpath "$1")
tag=${2:-strata:latest}
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/base-image.sh" strata-debian:12
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$deb" "$context/strata.deb"
cp "$here/strata.yaml" "$here/entrypoint.sh" "$here/Dockerfile" "$context/"
docker build -q -t "$tag" "$context" >/dev/null
# The build stage and the image this one replaced, now untagged.
docker image prune -f --filter label=org.strata.image >/dev/null
echo "build-image: $tag, $(docker image inspect -f '{{.Size}}' "$tag") bytes"
