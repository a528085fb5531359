#!/bin/bash
# More than 10 extensions: the 11th registration gets 403
# Extension.TooManyExtensions; that extension exits, which fails init.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
args=()
for i in $(seq 1 11); do args+=(--extension "$(stage ext_good "e$i")"); done
run_sim "${args[@]}" --invokes 1
want "$(cat "$T"/e*.regcode | sort | uniq -c | awk '{print $1"x"$2}' | tr '\n' ' ')" "10x200 1x403 " "register answers"
want "$(jq -r .errorType "$(grep -l 403 "$T"/e*.regcode | sed 's/regcode$/register.json/')")" Extension.TooManyExtensions "errorType"
want "$(r '.init_error')" Extension.Crash "init_error"
want "$SIM_RC" 3 "exit code"
