#!/bin/sh
# The image's entrypoint: a node of a multi-node quorum must be formatted with
# its cluster's id before it first starts (Kafka's images do the same with
# CLUSTER_ID). Set CLUSTER_ID (`stratad random-uuid`) on every node, the same
# everywhere; formatting a directory formatted before is skipped.
set -e
if [ -n "$CLUSTER_ID" ]; then
  config=/etc/strata/strata.yaml
  [ "$1" = "--config" ] && [ -n "$2" ] && config=$2
  stratad format -t "$CLUSTER_ID" -c "$config" --ignore-formatted
fi
exec stratad "$@"
