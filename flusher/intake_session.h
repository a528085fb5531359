/* intake_session.h — TLS session resumption that survives how libcurl
 * closes connections: every new session reaches curl's cache as a copy. */
#ifndef FORKCAP_FL_INTAKE_SESSION_H
#define FORKCAP_FL_INTAKE_SESSION_H

#include <openssl/ssl.h>

/* Called on every SSL_CTX libcurl creates (CURLOPT_SSL_CTX_FUNCTION), after
 * curl has set its own new-session callback: wraps it so curl's cache gets
 * a copy of each session. Not thread-safe (one process-global callback). */
void fl_tls_session_hook(SSL_CTX *ctx);

#endif
