/* intake_tls.h — the flusher's trust store, built once per process: the
 * system CA bundle plus DD_TLS_CERT_FILE, shared by every TLS connection.
 *
 * Parsing a 140-certificate bundle costs tens of milliseconds; doing it per
 * connection would cost that on every flush, so intake.c hands this one
 * reference-counted X509_STORE to each new SSL_CTX instead. */
#ifndef FORKCAP_FL_INTAKE_TLS_H
#define FORKCAP_FL_INTAKE_TLS_H

#include <stddef.h>

#include <openssl/x509_vfy.h>

/* Where the system bundle is looked for, first readable file wins: Debian /
 * Ubuntu, Amazon Linux / RHEL / Fedora, openSUSE, Alpine / BSD. */
extern const char *const fl_tls_bundle_paths[];

struct fl_tls_store_info {
    char bundle[512];  /* the system bundle used ("" when none) */
    unsigned bundle_certs; /* certificates taken from it */
    unsigned extra_certs;  /* from the extra file */
};

/* Build the store. ca_file: the system bundle to use (NULL or "" = search
 * fl_tls_bundle_paths); an explicit ca_file that cannot be read is an error.
 * extra_file: a PEM bundle added to the roots (NULL or "" = none); unreadable
 * or holding no certificate is an error. No system bundle found is an error
 * unless extra_file gave at least one certificate. Returns the store (the
 * caller owns one reference) or NULL with a one-line reason in err. */
X509_STORE *fl_tls_store_load(const char *ca_file, const char *extra_file,
                              struct fl_tls_store_info *info, char *err, size_t errlen);

#endif
