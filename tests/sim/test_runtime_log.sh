#!/bin/bash
# --runtime-log: the runtime's stdout and stderr lines also go to a file
# (stderr ones marked), so a runtime that dies during init leaves its error
# there without any Telemetry API subscriber.
set -euo pipefail
SIM=$1 LISTENER=$2 DIR=$3
. "$DIR/sim_test_lib.sh"
good=$(stage ext_good)
cat > "$T/crashing_rt" <<'EOS'
#!/bin/bash
echo "starting"
echo "Error: Cannot find module 'index'" >&2
exit 1
EOS
chmod +x "$T/crashing_rt"
run_sim --extension "$good" --runtime "exec $T/crashing_rt" --runtime-log "$T/rt.log" --invokes 1
want "$SIM_RC" 3 "exit code (init failed)"
want "$(r .init_error)" Runtime.ExitError "init_error"
want "$(cat "$T/rt.log")" "starting
[err] Error: Cannot find module 'index'" "runtime log"
rc=0; "$SIM" --runtime-log /nonexistent/dir/rt.log --invokes 0 > /dev/null 2>&1 || rc=$?
want "$rc" 2 "unwritable --runtime-log"
