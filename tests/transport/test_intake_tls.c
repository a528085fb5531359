/* test_intake_tls.c — flusher/intake_tls.c: the CA store is built from the
 * bundle plus DD_TLS_CERT_FILE, and every unusable file is a clear error.
 * Certificates come from tests/lib/make-ca.sh (FORKCAP_MAKE_CA). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/x509.h>

#include "intake_tls.h"

static char dir[256];
static char ca[300], extra[300], garbage[300], empty[300];

static int setup(void **state)
{
    (void)state;
    const char *mk = getenv("FORKCAP_MAKE_CA");
    if (mk == NULL)
        return -1;
    snprintf(dir, sizeof dir, "%s/fl-tls-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(dir) == NULL)
        return -1;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "bash '%s' '%s' 3 >/dev/null", mk, dir);
    if (system(cmd) != 0)
        return -1;
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(extra, sizeof extra, "%s/extra-cas.pem", dir);
    snprintf(garbage, sizeof garbage, "%s/garbage.pem", dir);
    snprintf(empty, sizeof empty, "%s/empty.pem", dir);
    FILE *f = fopen(garbage, "w");
    fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    f = fopen(empty, "w");
    fputs("no certificates here\n", f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static unsigned objects(X509_STORE *st)
{
    return (unsigned)sk_X509_OBJECT_num(X509_STORE_get0_objects(st));
}

static void test_explicit_bundle_plus_extra(void **state)
{
    (void)state;
    struct fl_tls_store_info info;
    char err[512] = "";
    X509_STORE *st = fl_tls_store_load(extra, ca, &info, err, sizeof err);
    assert_non_null(st);
    assert_string_equal(info.bundle, extra);
    assert_int_equal(info.bundle_certs, 3);
    assert_int_equal(info.extra_certs, 1);
    assert_int_equal(objects(st), 4);
    X509_STORE_free(st);
}

static void test_search(void **state)
{
    (void)state;
    const char *found = NULL;
    for (const char *const *p = fl_tls_bundle_paths; *p && !found; p++)
        if (access(*p, R_OK) == 0)
            found = *p;
    struct fl_tls_store_info info;
    char err[512] = "";
    X509_STORE *st = fl_tls_store_load(NULL, ca, &info, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(info.extra_certs, 1);
    if (found) {
        assert_string_equal(info.bundle, found);
        assert_true(info.bundle_certs > 0);
        assert_true(objects(st) >= info.bundle_certs);
    } else {
        /* no system bundle: the extra file alone is enough */
        assert_string_equal(info.bundle, "");
        assert_int_equal(objects(st), 1);
    }
    X509_STORE_free(st);
}

static void test_errors(void **state)
{
    (void)state;
    char err[512];
    char missing[320];
    snprintf(missing, sizeof missing, "%s/nope.pem", dir);

    err[0] = '\0';
    assert_null(fl_tls_store_load(missing, NULL, NULL, err, sizeof err));
    assert_non_null(strstr(err, "nope.pem"));

    err[0] = '\0';
    assert_null(fl_tls_store_load(ca, missing, NULL, err, sizeof err));
    assert_non_null(strstr(err, "DD_TLS_CERT_FILE"));

    err[0] = '\0';
    assert_null(fl_tls_store_load(ca, garbage, NULL, err, sizeof err));
    assert_non_null(strstr(err, "DD_TLS_CERT_FILE"));

    err[0] = '\0';
    assert_null(fl_tls_store_load(ca, empty, NULL, err, sizeof err));
    assert_non_null(strstr(err, "no certificate"));

    err[0] = '\0';
    assert_null(fl_tls_store_load(empty, NULL, NULL, err, sizeof err));
    assert_non_null(strstr(err, "no certificate"));

    err[0] = '\0';
    assert_null(fl_tls_store_load(dir, NULL, NULL, err, sizeof err)); /* a directory */
    assert_true(err[0] != '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explicit_bundle_plus_extra),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
