#!/usr/bin/env bash
# Runs "$@" and appends "<label> <start s> <end s> <exit> <argv>" to $BENCH_TIMING_LOG, timed with
# bash's $EPOCHREALTIME (no extra process). Used as HOIST_KUSTOMIZE to time each render check.
start=$EPOCHREALTIME
"$@"
rc=$?
args="$*"
printf '%s\t%s\t%s\t%s\t%s\n' "${BENCH_TIMING_LABEL:-cmd}" "$start" "$EPOCHREALTIME" "$rc" "${args//$'\n'/ }" >> "${BENCH_TIMING_LOG:-/dev/null}"
exit $rc
