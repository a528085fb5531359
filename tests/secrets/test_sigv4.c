/* test_sigv4.c — flusher/aws_sigv4.c against AWS's published Signature
 * Version 4 test suite (aws-sig-v4-test-suite: credentials AKIDEXAMPLE /
 * wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, us-east-1, service "service",
 * 20150830T123600Z). Each expected value is the suite's own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "aws_sigv4.h"

#define HOST {"Host", "example.amazonaws.com"}
#define DATE {"X-Amz-Date", "20150830T123600Z"}
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct sigv4_scope suite = {
    .access_key_id = "AKIDEXAMPLE",
    .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "service",
    .amz_date = "20150830T123600Z",
};

static void sign_ok(const struct sigv4_request *r, const struct sigv4_scope *s, struct sigv4_result *out)
{
    char err[128] = "";
    int rc = sigv4_sign(r, s, out, err, sizeof err);
    if (rc != 0)
        fail_msg("sigv4_sign: %s", err);
}

static void get_vanilla(void **st)
{
    (void)st;
    struct sigv4_header h[] = {HOST, DATE};
    struct sigv4_request r = {.method = "GET", .path = "/", .headers = h, .nheaders = 2};
    struct sigv4_result out;
    sign_ok(&r, &suite, &out);
    assert_string_equal(out.creq, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                                  "host;x-amz-date\n" EMPTY_SHA);
    assert_string_equal(out.string_to_sign,
                        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    assert_string_equal(out.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    assert_string_equal(out.authorization,
                        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                        "SignedHeaders=host;x-amz-date, "
                        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

static void post_vanilla(void **st)
{
    (void)st;
    struct sigv4_header h[] = {HOST, DATE};
    struct sigv4_request r = {.method = "POST", .path = "/", .headers = h, .nheaders = 2};
    struct sigv4_result out;
    sign_ok(&r, &suite, &out);
    assert_string_equal(out.signature, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

static void post_vanilla_query(void **st)
{
    (void)st;
    struct sigv4_header h[] = {HOST, DATE};
    struct sigv4_request r = {.method = "POST", .path = "/", .query = "Param1=value1", .headers = h, .nheaders = 2};
    struct sigv4_result out;
    sign_ok(&r, &suite, &out);
    assert_string_equal(out.string_to_sign,
                        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                        "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd");
    assert_string_equal(out.signature, "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
}

/* post-header-key-case: names in upper case sign as lower case */
static void post_header_key_case(void **st)
{
    (void)st;
    struct sigv4_header h[] = {{"HOST", "example.amazonaws.com"}, {"X-AMZ-DATE", "20150830T123600Z"}};
    struct sigv4_request r = {.method = "POST", .path = "/", .headers = h, .nheaders = 2};
    struct sigv4_result out;
    sign_ok(&r, &suite, &out);
    assert_string_equal(out.signed_headers, "host;x-amz-date");
    assert_string_equal(out.signature, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

/* post-header-key-sort: given out of order, signed sorted */
static void post_header_key_sort(void **st)
{
    (void)st;
    struct sigv4_header h[] = {DATE, {"My-Header1", "value1"}, HOST};
    struct sigv4_request r = {.method = "POST", .path = "/", .headers = h, .nheaders = 3};
    struct sigv4_result out;
    sign_ok(&r, &suite, &out);
    assert_string_equal(out.signed_headers, "host;my-header1;x-amz-date");
    assert_string_equal(out.signature, "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c");
}

/* post-header-value-case: values keep their case */
static void post_header_value_case(void **st)
{
    (void)st;
    struct sigv4_header h[] = {HOST, {"My-Header1", "VALUE1"}, DATE};
    struct sigv4_request r = {.method = "POST", .path = "/", .headers = h, .nheaders = 3};
    struct sigv4_result out;
    sign_ok(&r, &suite, &out);
    assert_string_equal(out.signature, "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d");
}

/* get-header-key-duplicate: a repeated name joins its values with ',' in order */
static void get_header_key_duplicate(void **st)
{
    (void)st;
    struct sigv4_header h[] = {HOST, {"My-Header1", "value2"}, {"My-Header1", "value2"},
                               {"My-Header1", "value1"}, DATE};
    struct sigv4_request r = {.method = "GET", .path = "/", .headers = h, .nheaders = 5};
    struct sigv4_result out;
    sign_ok(&r, &suite, &out);
    assert_non_null(strstr(out.creq, "\nmy-header1:value2,value2,value1\n"));
    assert_string_equal(out.signature, "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea");
}

/* get-header-value-trim: surrounding blanks go, inner runs fold to one */
static void get_header_value_trim(void **st)
{
    (void)st;
    struct sigv4_header h[] = {HOST, {"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}, DATE};
    struct sigv4_request r = {.method = "GET", .path = "/", .headers = h, .nheaders = 4};
    struct sigv4_result out;
    sign_ok(&r, &suite, &out);
    assert_non_null(strstr(out.creq, "\nmy-header2:\"a b c\"\n"));
    assert_string_equal(out.signature, "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}

static void post_x_www_form_urlencoded(void **st)
{
    (void)st;
    struct sigv4_header h[] = {{"Content-Type", "application/x-www-form-urlencoded"}, HOST, DATE};
    struct sigv4_request r = {.method = "POST", .path = "/", .headers = h, .nheaders = 3,
                              .body = "Param1=value1", .body_len = 13};
    struct sigv4_result out;
    sign_ok(&r, &suite, &out);
    assert_string_equal(out.creq, "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
                                  "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                                  "content-type;host;x-amz-date\n"
                                  "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
    assert_string_equal(out.string_to_sign,
                        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                        "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
    assert_string_equal(out.signature, "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

/* post-sts-token/post-sts-header-before: the session token is a signed header */
static void post_sts_header_before(void **st)
{
    (void)st;
    struct sigv4_header h[] = {
        HOST, DATE,
        {"X-Amz-Security-Token",
         "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTf"
         "lfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9"
         "HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KS"
         "YvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="}};
    struct sigv4_request r = {.method = "POST", .path = "/", .headers = h, .nheaders = 3};
    struct sigv4_result out;
    sign_ok(&r, &suite, &out);
    assert_string_equal(out.signed_headers, "host;x-amz-date;x-amz-security-token");
    assert_string_equal(out.signature, "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
}

/* post-sts-token/post-sts-header-after: a token added after signing leaves
 * the signature of post-vanilla */
static void post_sts_header_after(void **st)
{
    (void)st;
    struct sigv4_header h[] = {HOST, DATE};
    struct sigv4_request r = {.method = "POST", .path = "/", .headers = h, .nheaders = 2};
    struct sigv4_result out;
    sign_ok(&r, &suite, &out);
    assert_string_equal(out.signature, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

/* the shape used for Secrets Manager (AWS JSON 1.1, session token signed);
 * expected value published with Datadog's extension for the same request */
static void json11_secretsmanager(void **st)
{
    (void)st;
    const char *body = "{\"SecretId\":\"arn:aws:secretsmanager:region:account-id:secret:secret-name\"}";
    struct sigv4_header h[] = {{"Content-Type", "application/x-amz-json-1.1"},
                               {"Host", "secretsmanager.us-east-1.amazonaws.com"},
                               {"X-Amz-Date", "20240530T091011Z"},
                               {"X-Amz-Security-Token", "AQoDYXdzEJr...<remainder of session token>"},
                               {"X-Amz-Target", "secretsmanager.GetSecretValue"}};
    struct sigv4_request r = {.method = "POST", .path = "/", .headers = h, .nheaders = 5, .body = body,
                              .body_len = strlen(body)};
    struct sigv4_scope s = suite;
    s.service = "secretsmanager";
    s.amz_date = "20240530T091011Z";
    struct sigv4_result out;
    sign_ok(&r, &s, &out);
    assert_string_equal(out.authorization,
                        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240530/us-east-1/secretsmanager/aws4_request, "
                        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
                        "Signature=63d50106f9c0ab1f02c1f81d6c720b01bce369d45f63a8f6280ffe7945405b81");
}

static void rejects_bad_input(void **st)
{
    (void)st;
    struct sigv4_result out;
    char err[128];
    struct sigv4_header h[] = {HOST, DATE};
    struct sigv4_request r = {.method = "GET", .path = "/", .headers = h, .nheaders = 2};
    struct sigv4_scope s = suite;
    s.amz_date = "2015-08-30";
    assert_int_equal(sigv4_sign(&r, &s, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "X-Amz-Date"));
    struct sigv4_header bad[] = {HOST, {"Bad Name", "v"}};
    r.headers = bad;
    assert_int_equal(sigv4_sign(&r, &suite, &out, err, sizeof err), -1);
    struct sigv4_header ctl[] = {HOST, {"X-Ok", "a\r\nInjected: 1"}};
    r.headers = ctl;
    assert_int_equal(sigv4_sign(&r, &suite, &out, err, sizeof err), -1);
    r.nheaders = SIGV4_HEADERS_MAX + 1;
    assert_int_equal(sigv4_sign(&r, &suite, &out, err, sizeof err), -1);
}

static void amz_date_format(void **st)
{
    (void)st;
    char d[20];
    sigv4_amz_date((time_t)1440938160, d, sizeof d); /* 2015-08-30 12:36:00 UTC */
    assert_string_equal(d, "20150830T123600Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_vanilla),
        cmocka_unit_test(post_vanilla),
        cmocka_unit_test(post_vanilla_query),
        cmocka_unit_test(post_header_key_case),
        cmocka_unit_test(post_header_key_sort),
        cmocka_unit_test(post_header_value_case),
        cmocka_unit_test(get_header_key_duplicate),
        cmocka_unit_test(get_header_value_trim),
        cmocka_unit_test(post_x_www_form_urlencoded),
        cmocka_unit_test(post_sts_header_before),
        cmocka_unit_test(post_sts_header_after),
        cmocka_unit_test(json11_secretsmanager),
        cmocka_unit_test(rejects_bad_input),
        cmocka_unit_test(amz_date_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
