/* intake_tls.c — see intake_tls.h. */
#include "intake_tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

const char *const fl_tls_bundle_paths[] = {
    "/etc/ssl/certs/ca-certificates.crt",                /* Debian, Ubuntu */
    "/etc/pki/tls/certs/ca-bundle.crt",                  /* Amazon Linux, RHEL, Fedora */
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* RHEL 7+ extracted */
    "/etc/ssl/ca-bundle.pem",                            /* openSUSE */
    "/etc/ssl/cert.pem",                                 /* Alpine, BSDs */
    NULL,
};

/* A bundle far beyond any real one is refused before it is read: the file
 * comes from the environment. */
#define BUNDLE_MAX_BYTES (16u << 20)

/* Add every certificate of a PEM file; returns how many, or -1 on error. */
static int add_pem_file(X509_STORE *st, const char *path, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(err, errlen, "%.300s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size > (off_t)BUNDLE_MAX_BYTES) {
        snprintf(err, errlen, "%.300s: not a regular file of at most %u MiB", path,
                 BUNDLE_MAX_BYTES >> 20);
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%.300s: %s", path, strerror(errno));
        return -1;
    }
    int n = 0;
    for (;;) {
        X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
        if (x == NULL)
            break;
        /* a duplicate of a root already present is not an error */
        if (X509_STORE_add_cert(st, x) == 1)
            n++;
        X509_free(x);
    }
    fclose(f);
    /* the loop ends on "no start line" at EOF; anything else means a
     * damaged certificate somewhere in the file */
    unsigned long e = ERR_peek_last_error();
    if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
        char buf[160];
        ERR_error_string_n(e, buf, sizeof buf);
        ERR_clear_error();
        if (n == 0) {
            /* a cut message is still a clear one; using the result tells
             * gcc the truncation is expected */
            if (snprintf(err, errlen, "%.300s: %s", path, buf) >= (int)errlen)
                err[errlen - 1] = '\0';
            return -1;
        }
    }
    ERR_clear_error();
    return n;
}

X509_STORE *fl_tls_store_load(const char *ca_file, const char *extra_file,
                              struct fl_tls_store_info *info, char *err, size_t errlen)
{
    struct fl_tls_store_info tmp;
    if (info == NULL)
        info = &tmp;
    memset(info, 0, sizeof *info);
    X509_STORE *st = X509_STORE_new();
    if (st == NULL) {
        snprintf(err, errlen, "out of memory building the CA store");
        return NULL;
    }
    char e2[400] = "";
    if (ca_file != NULL && *ca_file != '\0') {
        int n = add_pem_file(st, ca_file, e2, sizeof e2);
        if (n <= 0) {
            if (n == 0)
                snprintf(err, errlen, "CA bundle %.300s holds no certificate", ca_file);
            else
                snprintf(err, errlen, "CA bundle %s", e2);
            X509_STORE_free(st);
            return NULL;
        }
        snprintf(info->bundle, sizeof info->bundle, "%s", ca_file);
        info->bundle_certs = (unsigned)n;
    } else {
        for (const char *const *p = fl_tls_bundle_paths; *p; p++) {
            struct stat sb;
            if (stat(*p, &sb) != 0 || !S_ISREG(sb.st_mode))
                continue;
            int n = add_pem_file(st, *p, e2, sizeof e2);
            if (n > 0) {
                snprintf(info->bundle, sizeof info->bundle, "%s", *p);
                info->bundle_certs = (unsigned)n;
                break;
            }
        }
    }
    if (extra_file != NULL && *extra_file != '\0') {
        int n = add_pem_file(st, extra_file, e2, sizeof e2);
        if (n < 0) {
            snprintf(err, errlen, "DD_TLS_CERT_FILE %s", e2);
            X509_STORE_free(st);
            return NULL;
        }
        if (n == 0) {
            snprintf(err, errlen, "DD_TLS_CERT_FILE %.300s holds no certificate", extra_file);
            X509_STORE_free(st);
            return NULL;
        }
        info->extra_certs = (unsigned)n;
    }
    if (info->bundle_certs == 0 && info->extra_certs == 0) {
        snprintf(err, errlen, "no system CA bundle found (looked in %s and %d more places)",
                 fl_tls_bundle_paths[0],
                 (int)(sizeof fl_tls_bundle_paths / sizeof fl_tls_bundle_paths[0]) - 2);
        X509_STORE_free(st);
        return NULL;
    }
    return st;
}
