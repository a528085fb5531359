/* intake.c — fake-intake: a Datadog-compatible intake for tests. Listens on
 * 127.0.0.1 (HTTP/1.1, h2c, TLS with ALPN h2/http1.1), answers the intake
 * endpoints, injects failures on demand and appends one JSON line per
 * request to a capture file. Contract: deploy/intake/README.md. */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "aws.h"
#include "ik_server.h"

static int alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
			  unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	static const unsigned char ours[] = "\x02h2\x08http/1.1";
	unsigned char *sel = NULL;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK; /* no common protocol: carry on without ALPN (HTTP/1.1) */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *tls_setup(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, NULL);
	static const unsigned char sid[] = "fake-intake";
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		char buf[256];
		ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
		fprintf(stderr, "ERROR | intake | certificate/key: %s\n", buf);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int listen_on(struct server *s, struct listener_ctx *lc, long port)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	lc->srv = s;
	lc->l = evconnlistener_new_bind(s->base, ik_accept_cb, lc, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
					(struct sockaddr *)&sin, sizeof(sin));
	if (!lc->l) {
		fprintf(stderr, "ERROR | intake | cannot listen on 127.0.0.1:%ld: %s\n", port, strerror(errno));
		return -1;
	}
	struct sockaddr_in got;
	socklen_t gl = sizeof(got);
	if (getsockname(evconnlistener_get_fd(lc->l), (struct sockaddr *)&got, &gl) != 0)
		return -1;
	return ntohs(got.sin_port);
}

static int write_port_file(const char *path, int http, int https)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -1;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	char a[16] = "null", b[16] = "null";
	if (http >= 0)
		snprintf(a, sizeof(a), "%d", http);
	if (https >= 0)
		snprintf(b, sizeof(b), "%d", https);
	fprintf(f, "{\"http\":%s,\"https\":%s}\n", a, b);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct server *s = arg;
	ik_log(s, "INFO", "signal %d: stopping", (int)sig);
	event_base_loopbreak(s->base);
}

static void usage(FILE *f)
{
	fputs("usage: fake-intake [options]\n"
	      "  --http-port N          plain HTTP listener on 127.0.0.1 (0 = any free port)\n"
	      "  --https-port N         TLS listener (0 = any; needs --cert and --key)\n"
	      "  --cert FILE --key FILE server certificate chain and key (PEM)\n"
	      "  --port-file FILE       write {\"http\":N,\"https\":N} once listening\n"
	      "  --capture FILE         append one JSON line per request\n"
	      "  --api-key KEY          the only DD-API-KEY accepted (default: any non-empty)\n"
	      "  --fail SPEC            e.g. path=/api/v2/series,status=500,count=2 (repeatable)\n"
	      "  --idle-close-ms N      close keep-alive connections idle for N ms\n"
	      "  --aws FILE             serve Secrets Manager, KMS, SSM and container credentials (README)\n"
	      "  --raw-log-bodies       bench: logs bodies are not parsed; captured as sent (README)\n"
	      "  --quiet                log errors only\n",
	      f);
}

int main(int argc, char **argv)
{
	static struct server srv;
	struct server *s = &srv;
	long http_port = -1, https_port = -1;
	const char *cert = NULL, *key = NULL, *port_file = NULL, *capture = NULL;
	enum { O_HTTP = 1, O_HTTPS, O_CERT, O_KEY, O_PORTFILE, O_CAPTURE, O_APIKEY, O_FAIL, O_IDLE, O_QUIET, O_HELP, O_AWS, O_RAWLOGS };
	static const struct option opts[] = {
		{ "http-port", required_argument, NULL, O_HTTP },   { "https-port", required_argument, NULL, O_HTTPS },
		{ "cert", required_argument, NULL, O_CERT },        { "key", required_argument, NULL, O_KEY },
		{ "port-file", required_argument, NULL, O_PORTFILE }, { "capture", required_argument, NULL, O_CAPTURE },
		{ "api-key", required_argument, NULL, O_APIKEY },   { "fail", required_argument, NULL, O_FAIL },
		{ "idle-close-ms", required_argument, NULL, O_IDLE }, { "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },              { "aws", required_argument, NULL, O_AWS },
		{ "raw-log-bodies", no_argument, NULL, O_RAWLOGS },
		{ NULL, 0, NULL, 0 },
	};
	s->stats = json_object();
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		struct rule r;
		const char *err;
		switch (o) {
		case O_HTTP:
		case O_HTTPS: {
			long p;
			if (ik_parse_long(optarg, &p) < 0 || p < 0 || p > 65535) {
				fprintf(stderr, "ERROR | intake | bad port: %s\n", optarg);
				return 2;
			}
			*(o == O_HTTP ? &http_port : &https_port) = p;
			break;
		}
		case O_CERT: cert = optarg; break;
		case O_KEY: key = optarg; break;
		case O_PORTFILE: port_file = optarg; break;
		case O_CAPTURE: capture = optarg; break;
		case O_APIKEY: s->api_key = optarg; break;
		case O_FAIL:
			if ((err = ik_rule_from_spec(optarg, &r)) || (err = ik_rule_add(s, &r))) {
				fprintf(stderr, "ERROR | intake | --fail %s: %s\n", optarg, err);
				return 2;
			}
			break;
		case O_IDLE:
			if (ik_parse_long(optarg, &s->idle_close_ms) < 0 || s->idle_close_ms < 0 ||
			    s->idle_close_ms > 86400000) {
				fprintf(stderr, "ERROR | intake | bad --idle-close-ms: %s\n", optarg);
				return 2;
			}
			break;
		case O_QUIET: s->quiet = 1; break;
		case O_RAWLOGS: s->raw_logs = 1; break;
		case O_AWS: {
			char aerr[512];
			ik_aws_free(s->aws);
			if (!(s->aws = ik_aws_load(optarg, aerr, sizeof(aerr)))) {
				fprintf(stderr, "ERROR | intake | --aws %s\n", aerr);
				return 2;
			}
			break;
		}
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || (http_port < 0 && https_port < 0)) {
		usage(stderr);
		return 2;
	}
	if (https_port >= 0 && (!cert || !key)) {
		fprintf(stderr, "ERROR | intake | --https-port needs --cert and --key\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	s->capture_fd = -1;
	if (capture && (s->capture_fd = open(capture, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "ERROR | intake | cannot open capture %s: %s\n", capture, strerror(errno));
		return 2;
	}
	if (https_port >= 0 && !(s->ssl_ctx = tls_setup(cert, key)))
		return 2;
	/* libevent's default coarse clock can fire a timer a few ms early;
	 * an injected delay must never be shorter than asked */
	struct event_config *ecfg = event_config_new();
	if (ecfg)
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	s->base = ecfg ? event_base_new_with_config(ecfg) : event_base_new();
	if (ecfg)
		event_config_free(ecfg);
	if (!s->base)
		return 2;
	/* signals first: whoever sees the port file may send SIGTERM at once */
	struct event *sigterm = evsignal_new(s->base, SIGTERM, signal_cb, s);
	struct event *sigint = evsignal_new(s->base, SIGINT, signal_cb, s);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	struct listener_ctx plain = { 0 }, tls = { .tls = 1 };
	int hp = -1, sp = -1;
	if (http_port >= 0 && (hp = listen_on(s, &plain, http_port)) < 0)
		return 2;
	if (https_port >= 0 && (sp = listen_on(s, &tls, https_port)) < 0)
		return 2;
	if (port_file && write_port_file(port_file, hp, sp) != 0) {
		fprintf(stderr, "ERROR | intake | cannot write port file %s\n", port_file);
		return 2;
	}
	ik_log(s, "INFO", "listening http=%d https=%d", hp, sp);

	event_base_dispatch(s->base);

	while (s->conns)
		ik_conn_free(s->conns, 0);
	if (plain.l)
		evconnlistener_free(plain.l);
	if (tls.l)
		evconnlistener_free(tls.l);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(s->base);
	if (s->ssl_ctx)
		SSL_CTX_free(s->ssl_ctx);
	json_decref(s->stats);
	ik_aws_free(s->aws);
	if (s->capture_fd >= 0 && close(s->capture_fd) != 0)
		return 1;
	return 0;
}
