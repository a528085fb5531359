#!/bin/bash
# The API key from an AWS secret, end to end: forkcap under lambda-sim,
# fake-intake playing Datadog (accepting only the resolved key) and AWS
# (Secrets Manager, KMS, SSM, the SnapStart credentials URI) behind its own
# SigV4 check, reached through FORKCAP_AWS_ENDPOINT_URL. DD_LOG_LEVEL=trace
# throughout, and no secret (key, AWS secret key, tokens) may show in any
# line forkcap writes.
# Usage: e2e_secrets.sh LAMBDA_SIM FORKCAP FAKE_INTAKE CASE [FORKCAP_TESTHOOKS]
# Cases: sm_cross_region, kms_context, ssm, ssm_name, snapstart, held_until_resolved,
#        flusher_killed_while_pending,
#        throttled_once, json_secret_rejected, env_key_check, check, fail_access_denied,
#        fail_throttled, fail_timeout, fail_reset, fail_signature, fail_region, fail_date,
#        fail_not_found, fail_snapstart_token
set -euo pipefail
SIM=$1 FORKCAP=$2 INTAKE=$3 CASE=$4 TESTHOOKS=${5:-}
HERE=$(dirname "$0")
. "$HERE/../lib/common.sh"
. "$HERE/../e2e/e2e_lib.sh"
test_tmpdir

KEY=feedc0de0123456789abcdef01234567      # what the secret holds
AKID=AKIDFORKCAPTEST
AWS_SECRET=aws-secret-SENTINEL-7f3a91
AWS_TOKEN=session-token-SENTINEL-52be07
SNAP_AUTH=container-auth-SENTINEL-c0ffee
SNAP_SECRET=snap-secret-SENTINEL-9d2c44
SNAP_TOKEN=snap-token-SENTINEL-1e8b5a
SM_WEST=arn:aws:secretsmanager:us-west-2:123456789012:secret:dd-api-key-AbCdEf
SM_EAST=arn:aws:secretsmanager:us-east-1:123456789012:secret:dd-api-key-east-XyZ
SM_JSON=arn:aws:secretsmanager:us-east-1:123456789012:secret:dd-api-key-json-QrS
SSM_NAME=/forkcap/dd-api-key
SSM_ARN=arn:aws:ssm:eu-central-1:123456789012:parameter/forkcap/dd-api-key
KMS_CT=AQICAHhmb3JrY2FwLXRlc3QtY2lwaGVydGV4dC1mb3ItdGhlLWtleQ==
FN=secrets-fn

# fake-intake's AWS side; $1 = extra "fail" rules (JSON array)
aws_config() {
    cat > "$T/aws.json" <<JSON
{"region": "us-east-1",
 "credentials": [{"AccessKeyId": "$AKID", "SecretAccessKey": "$AWS_SECRET", "Token": "$AWS_TOKEN"}],
 "container": {"path": "/snapstart/credentials", "authorization": "$SNAP_AUTH",
               "credentials": {"AccessKeyId": "ASIASNAPSTARTTEST", "SecretAccessKey": "$SNAP_SECRET",
                               "Token": "$SNAP_TOKEN"}},
 "secrets": {"$SM_WEST": "$KEY\n", "$SM_EAST": "$KEY", "$SM_JSON": "{\"api_key\": \"$KEY\"}"},
 "kms": [{"ciphertext": "$KMS_CT", "plaintext": "$KEY", "context": {"LambdaFunctionName": "$FN"}}],
 "ssm": {"$SSM_NAME": "$KEY"},
 "fail": ${1:-[]}}
JSON
}

CAP=$T/capture.jsonl
start_intake() {
    "$INTAKE" --http-port 0 --port-file "$T/intake.ports" --capture "$CAP" --api-key "$KEY" \
        --aws "$T/aws.json" --quiet "$@" 2>>"$T/intake.log" &
    wait_for_file "$T/intake.ports" 10 || fail "fake-intake did not start"
    PORT=$(jq -r .http "$T/intake.ports")
    export DD_DD_URL="http://127.0.0.1:$PORT" DD_LOGS_CONFIG_LOGS_DD_URL="http://127.0.0.1:$PORT"
    export DD_APM_DD_URL="http://127.0.0.1:$PORT" FORKCAP_AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
}

unset HTTPS_PROXY https_proxy DD_PROXY_HTTPS DD_KMS_API_KEY DD_API_KEY_SECRET_ARN DD_API_KEY_SSM_NAME
unset AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN
export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$AWS_SECRET AWS_SESSION_TOKEN=$AWS_TOKEN
export DD_LOG_LEVEL=trace DD_SERVERLESS_FLUSH_STRATEGY=end
# a plain key is set too: an AWS source wins over it (the intake accepts only $KEY)
export DD_API_KEY=0123456789abcdef0123456789abcdef
N=3
REGION=us-east-1

run() {
    ext_setup "$T"
    run_sim "$T" --invokes "$N" --interval-ms 20 --fn-ms 5 --log-lines 2 --function-name "$FN" \
        --region "$REGION" "$@" || fail "lambda-sim exit $?"
    check_all_invocations "$T" "$N"
}

aws_calls() { jq -s --arg r "$1" '[.[] | select(.kind == "aws" and .route == $r)]' "$CAP"; }
dd_posts() { jq -s '[.[] | select(.kind != "aws" and .kind != "validate")] | length' "$CAP"; }

no_secret_in_logs() {
    local s
    for s in "$KEY" "$AWS_SECRET" "$AWS_TOKEN" "$SNAP_AUTH" "$SNAP_SECRET" "$SNAP_TOKEN"; do
        ! grep -qF -- "$s" "$T/ext.log" || fail "a secret shows in forkcap's log: $(grep -F -- "$s" "$T/ext.log" | head -2)"
    done
    ! grep -qF -- "feedc0de" "$T/ext.log" || fail "part of the key shows in forkcap's log"
}

resolved() {
    grep -q "API key resolved from $1 in" "$T/ext.log" || fail "no 'resolved' line: $(grep -i 'api key' "$T/ext.log" | head -3)"
    ! grep -q "not resolved" "$T/ext.log" || fail "an error line: $(grep 'not resolved' "$T/ext.log")"
    # every function line reached the intake, posted with the resolved key
    # (fake-intake refuses any other key with a 403)
    jq -r 'select(.kind == "logs" and .status < 300) | .body[]? | .message.message | tostring' "$CAP" \
        | grep -oE '^[0-9a-f-]{36} line [0-9]+' | sort -u > "$T/lines.txt" || true
    [ "$(wc -l < "$T/lines.txt")" = $((N * 2)) ] ||
        fail "$(wc -l < "$T/lines.txt") function lines at the intake, expected $((N * 2))"
    [ "$(jq -s '[.[] | select(.kind != "aws" and .status == 403)] | length' "$CAP")" = 0 ] ||
        fail "the intake refused the key"
    [ "$(jq -s '[.[] | select(.kind == "validate" and .status == 200)] | length' "$CAP")" = 1 ] ||
        fail "no successful GET /api/v1/validate"
    no_secret_in_logs
    echo "time from start to key resolved: $(grep -oE 'API key resolved from .*' "$T/ext.log")"
}

# one error line naming the variable and the AWS code, idle mode, nothing posted
failed() {
    local var=$1 code=$2 n
    n=$(grep -c "not resolved" "$T/ext.log" || true)
    [ "$n" = 1 ] || fail "$n error lines, expected 1: $(grep 'not resolved' "$T/ext.log")"
    grep "ERROR" "$T/ext.log" | grep "not resolved" | grep -F "$var" | grep -F -- "$code" | grep -q "idle mode" ||
        fail "error line lacks $var / $code / idle mode: $(grep 'not resolved' "$T/ext.log")"
    [ "$(dd_posts)" = 0 ] || fail "$(dd_posts) intake posts in idle mode"
    ! grep -q "API key resolved" "$T/ext.log" || fail "resolved after all"
    grep -q "flusher | exiting: .*acked to [1-9]" "$T/ext.log" || fail "idle flusher did not ack: $(grep 'flusher | exiting' "$T/ext.log")"
    no_secret_in_logs
    echo "error line: $(grep 'not resolved' "$T/ext.log")"
}

case $CASE in
sm_cross_region)
    aws_config; start_intake
    export DD_API_KEY_SECRET_ARN=$SM_WEST
    run
    resolved DD_API_KEY_SECRET_ARN
    c=$(aws_calls /aws/secretsmanager.GetSecretValue)
    [ "$(jq length <<<"$c")" = 1 ] || fail "$(jq length <<<"$c") GetSecretValue calls"
    [ "$(jq -r '.[0].aws.verdict' <<<"$c")" = ok ] || fail "signature: $(jq -c '.[0].aws' <<<"$c")"
    [ "$(jq -r '.[0].aws.expected_region' <<<"$c")" = us-west-2 ] || fail "not signed for the ARN's region"
    [ "$(jq -r '.[0].headers["x-amz-security-token"]' <<<"$c")" = "$AWS_TOKEN" ] || fail "no session token sent"
    ;;
kms_context)
    aws_config; start_intake
    export DD_KMS_API_KEY=$KMS_CT DD_API_KEY_SECRET_ARN=$SM_WEST # KMS wins, as with Datadog
    run
    resolved DD_KMS_API_KEY
    c=$(aws_calls /aws/TrentService.Decrypt)
    [ "$(jq length <<<"$c")" = 2 ] || fail "$(jq length <<<"$c") Decrypt calls, expected 2"
    [ "$(jq -c '[.[].aws.encryption_context]' <<<"$c")" = "[null,{\"LambdaFunctionName\":\"$FN\"}]" ] ||
        fail "Decrypt calls: $(jq -c '[.[].aws]' <<<"$c")"
    [ "$(jq -c '[.[].status]' <<<"$c")" = "[400,200]" ] || fail "statuses $(jq -c '[.[].status]' <<<"$c")"
    [ "$(jq length <<<"$(aws_calls /aws/secretsmanager.GetSecretValue)")" = 0 ] || fail "Secrets Manager asked too"
    ;;
ssm)
    # Datadog's DD_API_KEY_SSM_ARN, a parameter in another region
    aws_config; start_intake
    export DD_API_KEY_SSM_ARN=$SSM_ARN
    run
    resolved DD_API_KEY_SSM_ARN
    c=$(aws_calls /aws/AmazonSSM.GetParameter)
    [ "$(jq -r '.[0].aws.with_decryption' <<<"$c")" = true ] || fail "GetParameter without decryption"
    [ "$(jq -r '.[0].aws.expected_region' <<<"$c")" = eu-central-1 ] || fail "not signed for the ARN's region"
    [ "$(jq -r '.[0].aws.verdict' <<<"$c")" = ok ] || fail "signature: $(jq -c '.[0].aws' <<<"$c")"
    ;;
ssm_name)
    # a plain parameter name (DD_API_KEY_SSM_NAME): AWS_REGION
    aws_config; start_intake
    export DD_API_KEY_SSM_NAME=$SSM_NAME
    run
    resolved DD_API_KEY_SSM_NAME
    [ "$(jq -r '.[0].aws.expected_region' <<<"$(aws_calls /aws/AmazonSSM.GetParameter)")" = us-east-1 ] ||
        fail "not signed for AWS_REGION"
    ;;
snapstart)
    aws_config; start_intake
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
    export AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$PORT/snapstart/credentials"
    export AWS_CONTAINER_AUTHORIZATION_TOKEN=$SNAP_AUTH DD_API_KEY_SECRET_ARN=$SM_EAST
    run
    resolved DD_API_KEY_SECRET_ARN
    [ "$(jq -r '.[0].status' <<<"$(aws_calls /snapstart/credentials)")" = 200 ] || fail "credentials not fetched"
    c=$(aws_calls /aws/secretsmanager.GetSecretValue)
    [ "$(jq -r '.[0].headers.authorization' <<<"$c" | grep -c 'Credential=ASIASNAPSTARTTEST/')" = 1 ] ||
        fail "not signed with the SnapStart credentials"
    [ "$(jq -r '.[0].headers["x-amz-security-token"]' <<<"$c")" = "$SNAP_TOKEN" ] || fail "SnapStart token not sent"
    ;;
held_until_resolved)
    # the secret answers 1.5 s late: the first invocations' data waits (not
    # dropped, not acked) and is delivered once the key is known
    aws_config; start_intake --fail "path=/aws/secretsmanager.GetSecretValue,delay_ms=1500,count=1"
    export DD_API_KEY_SECRET_ARN=$SM_WEST
    run
    resolved DD_API_KEY_SECRET_ARN
    first_post=$(jq -s '[.[] | select(.kind == "logs")] | map(.time_ms) | min' "$CAP")
    key_at=$(jq -s '[.[] | select(.kind == "aws")] | map(.time_ms) | min' "$CAP")
    [ "$first_post" -ge "$key_at" ] || fail "a post went out before the key was known"
    # (how long a flush waits for the key is checked in test_key_pending:
    # here it depends on when the first invocation ends)
    ;;
flusher_killed_while_pending)
    # the flusher dies while its first GetSecretValue hangs: the supervisor
    # restarts it, the new one resolves the key, and the data held (never
    # acked) meanwhile is replayed and delivered
    aws_config; start_intake --fail "path=/aws/secretsmanager.GetSecretValue,delay_ms=4000,count=1"
    export DD_API_KEY_SECRET_ARN=$SM_WEST
    N=6
    ext_setup "$T"
    run_sim "$T" --invokes "$N" --interval-ms 500 --fn-ms 5 --log-lines 2 --function-name "$FN" \
        --region "$REGION" &
    sim=$!
    n=200
    until grep -q "secrets: Secrets Manager GetSecretValue, attempt 1" "$T/ext.log" 2>/dev/null; do
        n=$((n - 1)); [ $n -gt 0 ] || fail "the flusher never asked for the secret"; sleep 0.05
    done
    pid=$(jq -r .flusher.pid "$T/stats.json")
    kill -9 "$pid"
    wait "$sim" || fail "lambda-sim exit $?"
    check_all_invocations "$T" "$N"
    [ "$(jq .flusher.restarts "$T/stats.json")" -ge 1 ] || fail "the flusher was not restarted: $(jq -c .flusher "$T/stats.json")"
    resolved DD_API_KEY_SECRET_ARN
    ;;
throttled_once)
    aws_config '[{"target": "secretsmanager.GetSecretValue", "error": "ThrottlingException", "count": 2}]'
    start_intake
    export DD_API_KEY_SECRET_ARN=$SM_WEST
    run
    resolved DD_API_KEY_SECRET_ARN
    [ "$(jq -c '[.[].status]' <<<"$(aws_calls /aws/secretsmanager.GetSecretValue)")" = "[400,400,200]" ] ||
        fail "throttling not retried: $(jq -c '[.[].status]' <<<"$(aws_calls /aws/secretsmanager.GetSecretValue)")"
    ;;
json_secret_rejected)
    # a JSON secret string is the key, whole (as Datadog does): the intake
    # refuses it, the start-up check says so in one line naming the site,
    # and forkcap keeps running
    aws_config; start_intake
    export DD_API_KEY_SECRET_ARN=$SM_JSON
    run
    grep -q "API key resolved from DD_API_KEY_SECRET_ARN" "$T/ext.log" || fail "not resolved"
    [ "$(jq -s '[.[] | select(.kind == "validate" and .status == 403)] | length' "$CAP")" = 1 ] ||
        fail "no rejected key check"
    grep -q "127.0.0.1 answered 403 Forbidden: the API key was rejected (check DD_API_KEY_SECRET_ARN)" "$T/ext.log" ||
        fail "no error line naming the site: $(grep -i forbidden "$T/ext.log" | head -2)"
    grep -q "ERROR" <(grep "403 Forbidden" "$T/ext.log") || fail "the 403 is not an error line"
    ;;
env_key_check)
    # a plain DD_API_KEY is checked at start too: the right one once (200),
    # a wrong one gives one error line naming the site and forkcap runs on
    aws_config; start_intake
    export DD_API_KEY=$KEY
    run
    [ "$(jq -s '[.[] | select(.kind == "validate" and .status == 200)] | length' "$CAP")" = 1 ] ||
        fail "no key check with DD_API_KEY"
    [ "$(jq -s '[.[] | select(.kind == "aws")] | length' "$CAP")" = 0 ] || fail "AWS asked without a secret source"
    : > "$CAP"
    export DD_API_KEY=0123456789abcdef0123456789abcdef
    run
    [ "$(jq -s '[.[] | select(.kind == "validate" and .status == 403)] | length' "$CAP")" = 1 ] ||
        fail "no rejected key check"
    grep "ERROR" "$T/ext.log" | grep -q "127.0.0.1 answered 403 Forbidden: the API key was rejected (check DD_API_KEY)" ||
        fail "no error line naming the site: $(grep -i forbidden "$T/ext.log" | head -2)"
    ;;
check)
    # forkcap check resolves the key the way the flusher does: a working
    # secret passes (key masked), a refused one is one error line with the code
    aws_config '[{"target": "AmazonSSM.GetParameter", "error": "AccessDeniedException"}]'
    start_intake
    RC=0
    env DD_API_KEY_SECRET_ARN=$SM_WEST AWS_REGION=us-east-1 "$FORKCAP" check --budget-ms 10000 \
        > "$T/check.out" 2> "$T/check.err" || RC=$?
    [ $RC = 0 ] || fail "check failed ($RC): $(cat "$T/check.err") $(tail -3 "$T/check.out")"
    grep -q "api key   resolved from DD_API_KEY_SECRET_ARN in .* ms: \*\*\*\*4567 (32 characters)" "$T/check.out" ||
        fail "no resolved line: $(grep -A2 '^intake' "$T/check.out")"
    ! grep -qF "$KEY" "$T/check.out" "$T/check.err" || fail "check printed the key"
    sed -n "/^api key/,/^endpoints/p;/^intake/,\$p" "$T/check.out"
    RC=0
    env DD_API_KEY_SSM_ARN=$SSM_ARN AWS_REGION=us-east-1 "$FORKCAP" check --budget-ms 10000 \
        > "$T/check2.out" 2> "$T/check2.err" || RC=$?
    [ $RC = 1 ] || fail "check passed with a refused secret"
    [ "$(wc -l < "$T/check2.err")" = 1 ] || fail "$(wc -l < "$T/check2.err") error lines: $(cat "$T/check2.err")"
    grep -q "forkcap check: API key from DD_API_KEY_SSM_ARN not resolved: SSM GetParameter in eu-central-1 answered AccessDeniedException" "$T/check2.err" ||
        fail "error line: $(cat "$T/check2.err")"
    for s in "$KEY" "$AWS_SECRET" "$AWS_TOKEN"; do
        ! grep -qF -- "$s" "$T/check.out" "$T/check.err" "$T/check2.out" "$T/check2.err" || fail "check printed a secret"
    done
    ;;
fail_access_denied)
    aws_config '[{"target": "secretsmanager.GetSecretValue", "error": "AccessDeniedException"}]'
    start_intake
    export DD_API_KEY_SECRET_ARN=$SM_WEST
    run
    failed DD_API_KEY_SECRET_ARN AccessDeniedException
    ;;
fail_throttled)
    aws_config '[{"target": "AmazonSSM.GetParameter", "error": "ThrottlingException"}]'
    start_intake
    export DD_API_KEY_SSM_NAME=$SSM_NAME
    run
    failed DD_API_KEY_SSM_NAME "ThrottlingException (HTTP 400) after 3 attempts"
    ;;
fail_timeout)
    # 1 s per attempt, 3 attempts, 0.6 s of backoff; the sandbox is frozen
    # between invocations, so the invocations themselves last that long
    aws_config; start_intake --fail "path=/aws/secretsmanager.GetSecretValue,delay_ms=20000"
    export DD_API_KEY_SECRET_ARN=$SM_WEST DD_FLUSH_TIMEOUT=1
    ext_setup "$T"
    run_sim "$T" --invokes 3 --interval-ms 0 --fn-ms 1500 --timeout-ms 10000 --log-lines 2 \
        --function-name "$FN" --region "$REGION" || fail "lambda-sim exit $?"
    check_all_invocations "$T" 3
    ! grep -q "intake unreachable" "$T/ext.log" || fail "waiting for the key read as an unreachable intake"
    failed DD_API_KEY_SECRET_ARN "unreachable after 3 attempts"
    grep "not resolved" "$T/ext.log" | grep -qi "timed out\|timeout" || fail "the timeout is not named"
    ;;
fail_reset)
    aws_config; start_intake --fail "path=/aws/AmazonSSM.GetParameter,reset=1"
    export DD_API_KEY_SSM_NAME=$SSM_NAME
    run
    failed DD_API_KEY_SSM_NAME "unreachable after 3 attempts"
    [ "$(jq length <<<"$(aws_calls /aws/AmazonSSM.GetParameter)")" = 3 ] || fail "not 3 attempts"
    ;;
fail_signature)
    aws_config; start_intake
    export DD_API_KEY_SECRET_ARN=$SM_WEST AWS_SECRET_ACCESS_KEY=wrong-SENTINEL-secret-0000
    run
    failed DD_API_KEY_SECRET_ARN "InvalidSignatureException (HTTP 403)"
    ! grep -qF wrong-SENTINEL-secret-0000 "$T/ext.log" || fail "the AWS secret key shows in the log"
    ;;
fail_region)
    aws_config; start_intake
    export DD_API_KEY_SSM_NAME=$SSM_NAME
    REGION=eu-west-1 # fake-intake is us-east-1
    run
    failed DD_API_KEY_SSM_NAME "InvalidSignatureException (HTTP 403)"
    grep -q "eu-west-1" "$T/ext.log" || fail "the region is not named"
    ;;
fail_date)
    [ -n "$TESTHOOKS" ] || { echo "skip: no forkcap-testhooks"; exit 0; }
    FORKCAP=$TESTHOOKS
    aws_config; start_intake
    export DD_API_KEY_SECRET_ARN=$SM_WEST FORKCAP_TEST_AWS_SKEW_S=-3600
    run
    failed DD_API_KEY_SECRET_ARN "InvalidSignatureException (HTTP 403)"
    ;;
fail_not_found)
    aws_config; start_intake
    export DD_API_KEY_SECRET_ARN=arn:aws:secretsmanager:us-west-2:123456789012:secret:missing-AbCdEf
    run
    failed DD_API_KEY_SECRET_ARN ResourceNotFoundException
    ;;
fail_snapstart_token)
    aws_config; start_intake
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
    export AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$PORT/snapstart/credentials"
    export AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong-SENTINEL-auth DD_API_KEY_SECRET_ARN=$SM_EAST
    run
    failed DD_API_KEY_SECRET_ARN "SnapStart credentials endpoint answered AccessDeniedException"
    ! grep -qF wrong-SENTINEL-auth "$T/ext.log" || fail "the container token shows in the log"
    ;;
*)
    fail "unknown case $CASE"
    ;;
esac
echo "ok: $CASE"
