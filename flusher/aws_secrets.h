/* aws_secrets.h — the Datadog API key from an AWS secret, resolved in the
 * flusher after its TLS set-up, on the flusher's loop and HTTPS client.
 *
 * Sources (one is used; the first set in this order, as Datadog's extension
 * prefers KMS over Secrets Manager):
 *   DD_KMS_API_KEY        KMS Decrypt of the base64 ciphertext: first without
 *                         an encryption context (CLI-encrypted), then, if KMS
 *                         refuses, with {"LambdaFunctionName": <function>}
 *                         (what the Lambda console adds)
 *   DD_API_KEY_SECRET_ARN Secrets Manager GetSecretValue; the region is the
 *                         ARN's (cross-region secrets work); the SecretString
 *                         is the key, used whole even when it is JSON
 *   DD_API_KEY_SSM_ARN    SSM GetParameter with decryption, of a parameter
 *   (DD_API_KEY_SSM_NAME)  ARN (its region) or name (AWS_REGION)
 * Requests are AWS JSON 1.1 POSTs to https://<service>.<region>.amazonaws.com/
 * (.amazonaws.com.cn for cn- regions, <service>-fips when fips), signed with
 * SigV4 (aws_sigv4.h) using AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN. Under SnapStart (no keys, but
 * AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN)
 * the credentials are fetched from that URI first. FORKCAP_AWS_ENDPOINT_URL
 * (tests) sends every AWS call to one base URL instead, signed as usual.
 *
 * Retries: transport errors, 5xx and throttling (ThrottlingException,
 * TooManyRequestsException, RequestLimitExceeded, ...) up to AWS_KEY_ATTEMPTS
 * per call with doubling backoff; anything else is final. The resolved key
 * is cleaned as Datadog does (trailing newlines and every space removed).
 * Nothing here logs a secret, a response body or a credential. */
#ifndef FORKCAP_AWS_SECRETS_H
#define FORKCAP_AWS_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "intake.h"

#define AWS_KEY_ATTEMPTS 3u
#define AWS_KEY_BACKOFF_MS 200u     /* first wait; doubles */
#define AWS_KEY_MAX 256u            /* a resolved key, NUL included */
#define AWS_TOKEN_MAX 4096u         /* session token */
#define AWS_CODE_MAX 64u            /* AWS error code ("AccessDeniedException") */

enum aws_op { AWS_OP_SM, AWS_OP_KMS, AWS_OP_SSM, AWS_OP_CREDS };

/* ---- pure helpers (no I/O; fuzzed and unit-tested) ---- */

/* Region field of an ARN (arn:partition:service:REGION:account:...).
 * Returns 0, or -1 when s is not an ARN or the region is empty/odd. */
int aws_arn_region(const char *arn, char *region, size_t cap);

/* "<service>[-fips].<region>.amazonaws.com[.cn]". Returns 0 or -1 (bad region). */
int aws_host(const char *service, const char *region, bool fips, char *out, size_t cap);

/* In place: trailing newlines (and carriage returns) removed, then every
 * space removed. Returns the new length. */
size_t aws_key_clean(char *key);

enum aws_answer { AWS_ANS_OK, AWS_ANS_ERROR, AWS_ANS_BAD };

/* Reads an AWS JSON 1.1 answer for op (SM, KMS, SSM): the secret value into
 * value (KMS Plaintext base64-decoded; must be text), or the error code (the
 * "__type" after any '#', else "HTTP <status>") into code. AWS_ANS_BAD: a 2xx
 * that does not hold what op promises (code says what). Bounded by len. */
enum aws_answer aws_parse_answer(enum aws_op op, long http_status, const char *body, size_t len, char *value,
                                 size_t vcap, char *code, size_t ccap);

struct aws_creds {
    char access_key_id[129];
    char secret_access_key[129];
    char session_token[AWS_TOKEN_MAX];
};
/* The container credentials answer: {"AccessKeyId","SecretAccessKey","Token"}.
 * Returns 0 or -1 with the reason in code. */
int aws_parse_creds(long http_status, const char *body, size_t len, struct aws_creds *out, char *code,
                    size_t ccap);

/* Is this error worth another attempt? (transport, 5xx, throttling) */
bool aws_retryable(int curl_code, long http_status, const char *code);

/* ---- the resolver ---- */

struct aws_key_opts {
    enum cfg_key_source source;  /* CFG_KEY_KMS, CFG_KEY_SECRET_ARN, CFG_KEY_SSM */
    const char *var;             /* the variable's name, for the error line */
    const char *value;           /* ciphertext, ARN or parameter name */
    const char *region;          /* AWS_REGION */
    const char *fn_name;         /* AWS_LAMBDA_FUNCTION_NAME (KMS context) */
    const char *access_key_id, *secret_access_key, *session_token;
    const char *creds_uri, *creds_token; /* SnapStart container credentials */
    const char *endpoint_url;    /* FORKCAP_AWS_ENDPOINT_URL; NULL = real AWS hosts */
    bool fips;
    long timeout_ms;             /* per attempt */
    long skew_s;                 /* added to the clock when signing (tests only) */
};

/* key: the cleaned key (NUL-terminated, wiped after the call) or NULL;
 * error: one line naming the variable and the AWS error code (never a
 * secret) when key is NULL. Called once, from the loop. */
typedef void (*aws_key_done_fn)(const char *key, const char *error, double ms, void *arg);

/* o from the configuration (source, region, function, endpoint, FIPS,
 * timeout) and the process environment (the AWS credentials, which are
 * registered with log_add_secret here). Strings point into c and environ. */
void aws_key_opts_from_env(const struct cfg *c, struct aws_key_opts *o);

struct aws_key;
/* Starts at once (the first request goes out from the loop). NULL with err
 * set when the options are unusable (no region, no credentials...): the
 * caller reports err the same way as a failed resolution. */
struct aws_key *aws_key_start(struct event_base *base, struct fl_intake *in, const struct aws_key_opts *o,
                              aws_key_done_fn done, void *arg, char *err, size_t errlen);
/* Cancels whatever is pending (no callback), wipes and frees. Safe after done. */
void aws_key_free(struct aws_key *k);

#endif
