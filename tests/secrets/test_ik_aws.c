/* test_ik_aws.c — fake-intake's own SigV4 verifier (deploy/intake/aws.c)
 * against AWS's published test-suite requests and signatures (the same
 * vectors forkcap's signer is checked with, but a separate implementation),
 * and each refusal: signature, region, service, date, key, token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "aws.h"

#define NOW 1440938160 /* 20150830T123600Z */
#define SUITE_AUTH(sh, sig)                                                                                         \
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=" sh             \
    ", Signature=" sig
#define STS_TOKEN                                                                                                   \
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8Y" \
    "UuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6f" \
    "E8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQw" \
    "j2ICCR/oLxBA=="

static const struct ik_aws_cred suite[] = {{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL}};
static const struct ik_aws_cred suite_tok[] = {{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", STS_TOKEN}};

static json_t *hdrs(const char *auth)
{
    json_t *h = json_object();
    json_object_set_new(h, "host", json_string("example.amazonaws.com"));
    json_object_set_new(h, "x-amz-date", json_string("20150830T123600Z"));
    json_object_set_new(h, "authorization", json_string(auth));
    return h;
}

static int verify(const char *method, const char *query, json_t *h, const char *body,
                  const struct ik_aws_cred *c, const char *region, const char *service, long now, const char **code)
{
    const char *msg = NULL;
    int st = ik_aws_verify(method, "/", query, h, (const uint8_t *)body, strlen(body), c, 1, region, service, now,
                           code, &msg);
    json_decref(h);
    return st;
}

static void suite_vectors_verify(void **st)
{
    (void)st;
    const char *code = NULL;
    assert_int_equal(verify("GET", "", hdrs(SUITE_AUTH("host;x-amz-date",
                                                       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")),
                            "", suite, "us-east-1", "service", NOW, &code), 0); /* get-vanilla */
    assert_int_equal(verify("POST", "Param1=value1",
                            hdrs(SUITE_AUTH("host;x-amz-date",
                                            "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11")),
                            "", suite, "us-east-1", "service", NOW, &code), 0); /* post-vanilla-query */
    json_t *h = hdrs(SUITE_AUTH("content-type;host;x-amz-date",
                                "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"));
    json_object_set_new(h, "content-type", json_string("application/x-www-form-urlencoded"));
    assert_int_equal(verify("POST", "", h, "Param1=value1", suite, "us-east-1", "service", NOW, &code), 0);
    h = hdrs(SUITE_AUTH("host;x-amz-date;x-amz-security-token",
                        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"));
    json_object_set_new(h, "x-amz-security-token", json_string(STS_TOKEN));
    assert_int_equal(verify("POST", "", h, "", suite_tok, "us-east-1", "service", NOW, &code), 0);
}

static void refusals(void **st)
{
    (void)st;
    const char *code = NULL;
    const char *good = SUITE_AUTH("host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
    /* post-vanilla, as a baseline */
    assert_int_equal(verify("POST", "", hdrs(good), "", suite, "us-east-1", "service", NOW, &code), 0);
    /* one changed hex digit */
    assert_int_equal(verify("POST", "", hdrs(SUITE_AUTH("host;x-amz-date",
                                                         "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6c")),
                            "", suite, "us-east-1", "service", NOW, &code), 403);
    assert_string_equal(code, "InvalidSignatureException");
    /* the body is signed: another body, another signature */
    assert_int_equal(verify("POST", "", hdrs(good), "x", suite, "us-east-1", "service", NOW, &code), 403);
    assert_string_equal(code, "InvalidSignatureException");
    /* scoped to another region / service than the endpoint's */
    assert_int_equal(verify("POST", "", hdrs(good), "", suite, "us-west-2", "service", NOW, &code), 403);
    assert_string_equal(code, "InvalidSignatureException");
    assert_int_equal(verify("POST", "", hdrs(good), "", suite, "us-east-1", "kms", NOW, &code), 403);
    /* the request time is more than 5 minutes away */
    assert_int_equal(verify("POST", "", hdrs(good), "", suite, "us-east-1", "service", NOW + 3600, &code), 403);
    assert_string_equal(code, "InvalidSignatureException");
    /* unknown access key; token expected but missing */
    static const struct ik_aws_cred other[] = {{"AKIDOTHER", "x", NULL}};
    assert_int_equal(verify("POST", "", hdrs(good), "", other, "us-east-1", "service", NOW, &code), 403);
    assert_string_equal(code, "UnrecognizedClientException");
    assert_int_equal(verify("POST", "", hdrs(good), "", suite_tok, "us-east-1", "service", NOW, &code), 403);
    assert_string_equal(code, "UnrecognizedClientException");
    /* no or malformed Authorization */
    json_t *h = hdrs(good);
    json_object_del(h, "authorization");
    assert_int_equal(verify("POST", "", h, "", suite, "us-east-1", "service", NOW, &code), 403);
    assert_string_equal(code, "MissingAuthenticationTokenException");
    assert_int_equal(verify("POST", "", hdrs("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE"), "", suite, "us-east-1",
                            "service", NOW, &code), 400);
    assert_string_equal(code, "IncompleteSignatureException");
    /* a signed header that was not sent */
    assert_int_equal(verify("POST", "", hdrs(SUITE_AUTH("host;x-amz-date;x-missing",
                                                         "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")),
                            "", suite, "us-east-1", "service", NOW, &code), 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(suite_vectors_verify),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
