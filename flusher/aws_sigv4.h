/* aws_sigv4.h — AWS Signature Version 4 (AWS4-HMAC-SHA256) for the requests
 * the flusher makes to AWS (Secrets Manager, KMS, SSM) to resolve the API key.
 *
 * The caller gives the request as it will go on the wire: method, an already
 * URI-encoded path, an already canonical query string (names and values
 * encoded, pairs sorted; "" for none), the headers to sign (Host and
 * X-Amz-Date among them; names in any case, values as sent) and the body.
 * The signer lower-cases and sorts the header names, trims values and folds
 * runs of blanks into one, joins repeated names with ',', hashes the body and
 * derives the key from the date, region and service of the credential scope.
 * Nothing here allocates; output that does not fit is an error. */
#ifndef FORKCAP_AWS_SIGV4_H
#define FORKCAP_AWS_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SIGV4_HEADERS_MAX 16u
#define SIGV4_CREQ_MAX 8192u   /* canonical request (headers + hashes) */
#define SIGV4_AUTH_MAX 512u    /* Authorization header value */
#define SIGV4_DATE_LEN 16u     /* "YYYYMMDDTHHMMSSZ" */

struct sigv4_header {
    const char *name;
    const char *value;
};

struct sigv4_request {
    const char *method;   /* "GET", "POST" */
    const char *path;     /* URI-encoded, "/" when empty */
    const char *query;    /* canonical query string, "" or NULL for none */
    const struct sigv4_header *headers; /* the headers to sign */
    size_t nheaders;      /* <= SIGV4_HEADERS_MAX */
    const void *body;
    size_t body_len;
};

struct sigv4_scope {
    const char *access_key_id;
    const char *secret_access_key;
    const char *region;   /* "us-east-1" */
    const char *service;  /* "secretsmanager", "kms", "ssm" */
    const char *amz_date; /* "YYYYMMDDTHHMMSSZ", the X-Amz-Date value */
};

/* The pieces, exposed so tests can compare each against published vectors. */
struct sigv4_result {
    char creq[SIGV4_CREQ_MAX];        /* canonical request */
    char string_to_sign[256];
    char signed_headers[512];         /* "content-type;host;x-amz-date" */
    char signature[65];               /* lowercase hex */
    char authorization[SIGV4_AUTH_MAX];
};

/* Sign. Returns 0, or -1 with a reason in err (bad input, too many or too
 * long headers, an output that would not fit). */
int sigv4_sign(const struct sigv4_request *r, const struct sigv4_scope *s, struct sigv4_result *out,
               char *err, size_t errlen);

/* X-Amz-Date for a UNIX time: "YYYYMMDDTHHMMSSZ" (UTC). buf >= 17 bytes. */
void sigv4_amz_date(time_t t, char *buf, size_t cap);

/* Lowercase hex SHA-256 of data into hex[65]. */
void sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
