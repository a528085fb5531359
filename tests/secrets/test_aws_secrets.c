/* test_aws_secrets.c — the pure parts of flusher/aws_secrets.c (ARN region,
 * AWS host names, key cleaning, AWS answers, container credentials, retry
 * rules) and how common/config.c reads the AWS key sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "aws_secrets.h"
#include "config.h"

static void arn_region(void **st)
{
    (void)st;
    char r[64];
    assert_int_equal(aws_arn_region("arn:aws:secretsmanager:us-west-2:123456789012:secret:k-AbC", r, sizeof r), 0);
    assert_string_equal(r, "us-west-2");
    assert_int_equal(aws_arn_region("arn:aws-cn:secretsmanager:cn-north-1:1:secret:k", r, sizeof r), 0);
    assert_string_equal(r, "cn-north-1");
    assert_int_equal(aws_arn_region("my-secret-name", r, sizeof r), -1);
    assert_int_equal(aws_arn_region("arn:aws:secretsmanager::1:secret:k", r, sizeof r), -1);
    assert_int_equal(aws_arn_region("arn:aws:secretsmanager:US_WEST:1:secret:k", r, sizeof r), -1);
    assert_int_equal(aws_arn_region("arn:aws:secretsmanager:us-west-2", r, sizeof r), -1);
    assert_int_equal(aws_arn_region("arn:aws:secretsmanager:us-west-2:1:s", r, 4), -1); /* does not fit */
}

static void hosts(void **st)
{
    (void)st;
    char h[128];
    assert_int_equal(aws_host("secretsmanager", "us-east-1", false, h, sizeof h), 0);
    assert_string_equal(h, "secretsmanager.us-east-1.amazonaws.com");
    assert_int_equal(aws_host("kms", "cn-northwest-1", false, h, sizeof h), 0);
    assert_string_equal(h, "kms.cn-northwest-1.amazonaws.com.cn");
    assert_int_equal(aws_host("ssm", "us-gov-west-1", true, h, sizeof h), 0);
    assert_string_equal(h, "ssm-fips.us-gov-west-1.amazonaws.com");
    assert_int_equal(aws_host("kms", "evil.com/x", false, h, sizeof h), -1);
    assert_int_equal(aws_host("kms", "", false, h, sizeof h), -1);
}

static void key_clean(void **st)
{
    (void)st;
    char k[64];
    strcpy(k, "abc123\n\n");
    assert_int_equal(aws_key_clean(k), 6);
    assert_string_equal(k, "abc123");
    strcpy(k, " ab c\r\n");
    aws_key_clean(k);
    assert_string_equal(k, "abc");
    strcpy(k, "  \n");
    assert_int_equal(aws_key_clean(k), 0);
}

static void answers(void **st)
{
    (void)st;
    char v[AWS_KEY_MAX], code[128];
    const char *sm = "{\"ARN\":\"a\",\"SecretString\":\"{\\\"api_key\\\": \\\"k1\\\"}\"}";
    assert_int_equal(aws_parse_answer(AWS_OP_SM, 200, sm, strlen(sm), v, sizeof v, code, sizeof code), AWS_ANS_OK);
    assert_string_equal(v, "{\"api_key\": \"k1\"}"); /* used whole, as Datadog does */

    const char *bin = "{\"ARN\":\"a\",\"SecretBinary\":\"AAEC\"}";
    assert_int_equal(aws_parse_answer(AWS_OP_SM, 200, bin, strlen(bin), v, sizeof v, code, sizeof code), AWS_ANS_BAD);
    assert_non_null(strstr(code, "SecretString"));

    /* "forkcap-key" and "forkcap-key1" / "forkcap-key12": padding 1, 0 and 2 '=' */
    const char *k0 = "{\"KeyId\":\"x\",\"Plaintext\":\"Zm9ya2NhcC1rZXk=\"}";
    assert_int_equal(aws_parse_answer(AWS_OP_KMS, 200, k0, strlen(k0), v, sizeof v, code, sizeof code), AWS_ANS_OK);
    assert_string_equal(v, "forkcap-key");
    const char *k1 = "{\"Plaintext\":\"Zm9ya2NhcC1rZXkx\"}";
    assert_int_equal(aws_parse_answer(AWS_OP_KMS, 200, k1, strlen(k1), v, sizeof v, code, sizeof code), AWS_ANS_OK);
    assert_string_equal(v, "forkcap-key1");
    const char *k2 = "{\"Plaintext\":\"Zm9ya2NhcC1rZXkxMg==\"}";
    assert_int_equal(aws_parse_answer(AWS_OP_KMS, 200, k2, strlen(k2), v, sizeof v, code, sizeof code), AWS_ANS_OK);
    assert_string_equal(v, "forkcap-key12");
    const char *kbad = "{\"Plaintext\":\"not base64!\"}";
    assert_int_equal(aws_parse_answer(AWS_OP_KMS, 200, kbad, strlen(kbad), v, sizeof v, code, sizeof code),
                     AWS_ANS_BAD);
    const char *knul = "{\"Plaintext\":\"AGFi\"}"; /* "\0ab": not text */
    assert_int_equal(aws_parse_answer(AWS_OP_KMS, 200, knul, strlen(knul), v, sizeof v, code, sizeof code),
                     AWS_ANS_BAD);

    const char *ssm = "{\"Parameter\":{\"Name\":\"/k\",\"Type\":\"SecureString\",\"Value\":\"v1\"}}";
    assert_int_equal(aws_parse_answer(AWS_OP_SSM, 200, ssm, strlen(ssm), v, sizeof v, code, sizeof code), AWS_ANS_OK);
    assert_string_equal(v, "v1");

    const char *err = "{\"__type\":\"com.amazonaws.kms#InvalidCiphertextException\",\"message\":\"\"}";
    assert_int_equal(aws_parse_answer(AWS_OP_KMS, 400, err, strlen(err), v, sizeof v, code, sizeof code),
                     AWS_ANS_ERROR);
    assert_string_equal(code, "InvalidCiphertextException");
    assert_int_equal(aws_parse_answer(AWS_OP_SM, 503, "<html>", 6, v, sizeof v, code, sizeof code), AWS_ANS_ERROR);
    assert_string_equal(code, "HTTP 503");
    assert_int_equal(aws_parse_answer(AWS_OP_SM, 200, "[1]", 3, v, sizeof v, code, sizeof code), AWS_ANS_BAD);

    /* a value too long for a key is refused, not cut */
    char big[600];
    int n = snprintf(big, sizeof big, "{\"SecretString\":\"%0300d\"}", 7);
    assert_int_equal(aws_parse_answer(AWS_OP_SM, 200, big, (size_t)n, v, sizeof v, code, sizeof code), AWS_ANS_BAD);
}

static void creds(void **st)
{
    (void)st;
    struct aws_creds c;
    char code[128];
    const char *ok = "{\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\":\"s/k+1\",\"Token\":\"t==\",\"Expiration\":\"x\"}";
    assert_int_equal(aws_parse_creds(200, ok, strlen(ok), &c, code, sizeof code), 0);
    assert_string_equal(c.access_key_id, "ASIA1");
    assert_string_equal(c.secret_access_key, "s/k+1");
    assert_string_equal(c.session_token, "t==");
    const char *missing = "{\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\":\"s\"}";
    assert_int_equal(aws_parse_creds(200, missing, strlen(missing), &c, code, sizeof code), -1);
    assert_non_null(strstr(code, "Token"));
    assert_string_equal(c.secret_access_key, ""); /* wiped */
    const char *blank = "{\"AccessKeyId\":\"A B\",\"SecretAccessKey\":\"s\",\"Token\":\"t\"}";
    assert_int_equal(aws_parse_creds(200, blank, strlen(blank), &c, code, sizeof code), -1);
    assert_int_equal(aws_parse_creds(401, "{}", 2, &c, code, sizeof code), -1);
    assert_string_equal(code, "HTTP 401");
}

static void retry_rules(void **st)
{
    (void)st;
    assert_true(aws_retryable(28, 0, NULL));        /* timeout */
    assert_true(aws_retryable(0, 503, "HTTP 503"));
    assert_true(aws_retryable(0, 400, "ThrottlingException"));
    assert_true(aws_retryable(0, 400, "TooManyRequestsException"));
    assert_false(aws_retryable(0, 400, "AccessDeniedException"));
    assert_false(aws_retryable(0, 403, "InvalidSignatureException"));
    assert_false(aws_retryable(0, 400, "ResourceNotFoundException"));
}

/* ---- config ---- */

struct env {
    const char *k[16], *v[16];
    int n;
};
static const char *env_get(const char *name, void *arg)
{
    struct env *e = arg;
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->k[i], name) == 0)
            return e->v[i];
    return NULL;
}
static void env_set(struct env *e, const char *k, const char *v)
{
    e->k[e->n] = k;
    e->v[e->n++] = v;
}

static void config_sources(void **st)
{
    (void)st;
    static struct cfg c;
    struct env e = {0};
    env_set(&e, "AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
    env_set(&e, "DD_API_KEY_SECRET_ARN", " arn:aws:secretsmanager:us-west-2:1:secret:k ");
    assert_int_equal(cfg_load(&c, env_get, &e), 0);
    assert_false(c.idle); /* no DD_API_KEY, but a secret source: not idle */
    assert_int_equal(c.key_source, CFG_KEY_SECRET_ARN);
    assert_string_equal(c.key_source_var, "DD_API_KEY_SECRET_ARN");
    assert_string_equal(c.key_source_value, "arn:aws:secretsmanager:us-west-2:1:secret:k");
    assert_string_equal(c.api_key, "");

    env_set(&e, "DD_KMS_API_KEY", "AQICAHh=");
    env_set(&e, "DD_API_KEY", "0123456789abcdef0123456789abcdef");
    assert_int_equal(cfg_load(&c, env_get, &e), 0);
    assert_int_equal(c.key_source, CFG_KEY_KMS); /* KMS first, as Datadog */
    assert_string_equal(c.api_key, "");          /* the AWS source wins over DD_API_KEY */

    struct env s = {0};
    env_set(&s, "AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
    env_set(&s, "DD_API_KEY_SSM_NAME", "/dd/key");
    env_set(&s, "DD_API_KEY_SSM_ARN", "arn:aws:ssm:eu-west-1:1:parameter/dd/key"); /* Datadog's name wins */
    env_set(&s, "DD_FIPS_MODE", "true");
    env_set(&s, "FORKCAP_AWS_ENDPOINT_URL", "http://127.0.0.1:4566/");
    assert_int_equal(cfg_load(&c, env_get, &s), 0);
    assert_int_equal(c.key_source, CFG_KEY_SSM);
    assert_string_equal(c.key_source_var, "DD_API_KEY_SSM_ARN");
    assert_true(c.fips_mode);
    assert_string_equal(c.aws_endpoint_url, "http://127.0.0.1:4566");

    struct env none = {0};
    env_set(&none, "AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
    assert_int_equal(cfg_load(&c, env_get, &none), 0);
    assert_true(c.idle);
    assert_int_equal(c.key_source, CFG_KEY_ENV);

    struct env bad = {0};
    env_set(&bad, "AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
    env_set(&bad, "DD_API_KEY_SECRET_ARN", "   ");
    assert_int_equal(cfg_load(&c, env_get, &bad), 0);
    assert_true(c.idle);
    assert_non_null(strstr(c.idle_reason, "DD_API_KEY_SECRET_ARN"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arn_region),  cmocka_unit_test(hosts),       cmocka_unit_test(key_clean),
        cmocka_unit_test(answers),     cmocka_unit_test(creds),       cmocka_unit_test(retry_rules),
        cmocka_unit_test(config_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
