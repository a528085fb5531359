/* intake_session.c — see intake_session.h. */
#include "intake_session.h"

/* libcurl's own new-session callback, the same function for every SSL_CTX.
 * Process-global because OpenSSL's callback has no user pointer; it is
 * written once and only ever holds that one libcurl function. */
static int (*curl_new_session_cb)(SSL *, SSL_SESSION *);

/* OpenSSL marks a session "not resumable" when its SSL is freed without a
 * close_notify having been sent (ssl_clear_bad_session), and libcurl keeps
 * the very same SSL_SESSION object in its cache. When curl tears an HTTP/2
 * connection down without SSL_shutdown, the cached session dies with it and
 * every later connection pays a full handshake. So curl's cache gets a copy
 * of each new session, which the old connection's fate cannot touch. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    if (curl_new_session_cb == NULL)
        return 0;
    SSL_SESSION *copy = SSL_SESSION_dup(sess);
    if (copy == NULL)
        return curl_new_session_cb(ssl, sess);
    if (curl_new_session_cb(ssl, copy) == 0)
        SSL_SESSION_free(copy); /* curl did not keep it */
    return 0;                    /* the original stays OpenSSL's */
}

void fl_tls_session_hook(SSL_CTX *ctx)
{
    int (*cb)(SSL *, SSL_SESSION *) = SSL_CTX_sess_get_new_cb(ctx);
    if (cb != NULL && cb != new_session_cb) {
        curl_new_session_cb = cb;
        SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    }
}
