#!/usr/bin/env bash
# `make demo`: validate the quickstart pipeline and draw its DAG.
set -euo pipefail
cd "$(dirname "$0")"
: "${SLUICE:=$(cd ../.. && pwd)/build/sluice}"
echo "\$ sluice validate pipeline.yaml"
"$SLUICE" validate pipeline.yaml
echo
echo "\$ sluice graph pipeline.yaml --format mermaid"
"$SLUICE" graph pipeline.yaml --format mermaid
