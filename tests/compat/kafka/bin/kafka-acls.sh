#!/usr/bin/env bash
# The part of Kafka's kafka-acls.sh that librdkafka's ACL tests (0109, 0115,
# 0119) call through KAFKA_PATH (test_kafka_cmd), carried out by Strata's own
# CLI (`strata acl create|delete`, CreateAcls/DeleteAcls on the broker):
#
#   kafka-acls.sh --bootstrap-server HOST:PORT (--add | --remove [--force])
#       (--allow-principal P | --deny-principal P)... --operation OP...
#       [--allow-host H | --deny-host H] (--topic T | --group G | --cluster)
#       [--resource-pattern-type literal|prefixed]
#
# Anything else is refused with exit status 2, so a test that needs more of
# kafka-acls.sh fails loudly instead of running with fewer ACLs.
# STRATA names the CLI (run.py sets it).
set -euo pipefail

strata=${STRATA:?kafka-acls.sh: STRATA (the strata CLI) must be set}
action="" bootstrap="" pattern="" host="" permission=""
principals=() operations=() resource=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --bootstrap-server) bootstrap=$2; shift 2 ;;
        --add) action=create; shift ;;
        --remove) action=delete; shift ;;
        --force) shift ;;  # no prompt to skip
        --allow-principal) principals+=("$2"); permission=ALLOW; shift 2 ;;
        --deny-principal) principals+=("$2"); permission=DENY; shift 2 ;;
        --operation) operations+=("${2^^}"); shift 2 ;;
        --allow-host | --deny-host) host=$2; shift 2 ;;
        --topic) resource=(--topic "$2"); shift 2 ;;
        --group) resource=(--group "$2"); shift 2 ;;
        --cluster) resource=(--cluster); shift ;;
        --resource-pattern-type) pattern=$2; shift 2 ;;
        *) echo "kafka-acls.sh (Strata's compat shim): unsupported argument: $1" >&2; exit 2 ;;
    esac
done
[[ -n $action && -n $bootstrap && ${#principals[@]} -gt 0 && ${#operations[@]} -gt 0 && ${#resource[@]} -gt 0 ]] ||
    { echo "kafka-acls.sh (Strata's compat shim): needs --bootstrap-server, --add or --remove, a principal, an operation and a resource" >&2; exit 2; }

if [[ $action == create ]]; then
    args=(acl create "${resource[@]}" --resource-pattern-type "${pattern:-literal}" --host "${host:-*}")
    for p in "${principals[@]}"; do
        if [[ $permission == ALLOW ]]; then args+=(--allow-principal "$p"); else args+=(--deny-principal "$p"); fi
    done
    for op in "${operations[@]}"; do args+=(--operation "$op"); done
    exec "$strata" -b "$bootstrap" "${args[@]}"
fi
# --remove deletes the ACLs the options name exactly (kafka-acls.sh's
# default pattern type there is literal too): one DeleteAcls per principal
# and operation.
for p in "${principals[@]}"; do
    for op in "${operations[@]}"; do
        "$strata" -b "$bootstrap" acl delete "${resource[@]}" --resource-pattern-type "${pattern:-literal}" \
            --principal "$p" --permission "$permission" --operation "$op" --host "${host:-*}"
    done
done
