/* payload.c — writes test request bodies for the fake intake's tests:
 * `payload sketch METRIC V...` (SketchPayload, DDSketch bins as the agent
 * builds them), `payload trace` (AgentPayload), `payload stats` (msgpack). */
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "sketch.pb-c.h"
#include "trace.pb-c.h"

/* the agent's key(v): eps 1/128, gamma 1 + 2 eps, bias 1338 */
static int32_t dd_key(double v)
{
	const double ln_gamma = log1p(1.0 / 64.0);
	const double norm_min = pow(1.015625, 1 - 1338);
	if (v < 0)
		return -dd_key(-v);
	if (v == 0 || v < norm_min)
		return 0;
	double r = nearbyint(log(v) / ln_gamma) + 1338;
	if (r > 32767)
		return 32767;
	return r < 1 ? 1 : (int32_t)r;
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

static int write_all(const uint8_t *d, size_t n)
{
	return fwrite(d, 1, n, stdout) == n && fflush(stdout) == 0 ? 0 : 1;
}

static int sketch(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: payload sketch METRIC VALUE...\n");
		return 2;
	}
	size_t nv = (size_t)argc - 1;
	int32_t *keys = calloc(nv, sizeof(*keys));
	int32_t *k = calloc(nv, sizeof(*k));
	uint32_t *n = calloc(nv, sizeof(*n));
	if (!keys || !k || !n)
		return 1;
	Datadog__Agentpayload__SketchPayload__Sketch__Dogsketch ds = DATADOG__AGENTPAYLOAD__SKETCH_PAYLOAD__SKETCH__DOGSKETCH__INIT;
	for (size_t i = 0; i < nv; i++) {
		double v = strtod(argv[1 + i], NULL);
		keys[i] = dd_key(v);
		if (i == 0 || v < ds.min)
			ds.min = v;
		if (i == 0 || v > ds.max)
			ds.max = v;
		ds.cnt++;
		ds.sum += v;
		ds.avg += (v - ds.avg) / (double)ds.cnt;
	}
	qsort(keys, nv, sizeof(*keys), cmp_i32);
	size_t nb = 0;
	for (size_t i = 0; i < nv; i++) {
		if (nb && k[nb - 1] == keys[i])
			n[nb - 1]++;
		else {
			k[nb] = keys[i];
			n[nb++] = 1;
		}
	}
	ds.ts = (int64_t)(time(NULL) / 10 * 10);
	ds.n_k = nb;
	ds.k = k;
	ds.n_n = nb;
	ds.n = n;
	Datadog__Agentpayload__SketchPayload__Sketch__Dogsketch *dsp = &ds;
	Datadog__Agentpayload__SketchPayload__Sketch sk = DATADOG__AGENTPAYLOAD__SKETCH_PAYLOAD__SKETCH__INIT;
	char *tags[] = { "env:test", "k:v" };
	sk.metric = argv[0];
	sk.n_tags = 2;
	sk.tags = tags;
	sk.n_dogsketches = 1;
	sk.dogsketches = &dsp;
	Datadog__Agentpayload__SketchPayload__Sketch *skp = &sk;
	Datadog__Agentpayload__SketchPayload sp = DATADOG__AGENTPAYLOAD__SKETCH_PAYLOAD__INIT;
	sp.n_sketches = 1;
	sp.sketches = &skp;
	size_t len = datadog__agentpayload__sketch_payload__get_packed_size(&sp);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return 1;
	datadog__agentpayload__sketch_payload__pack(&sp, buf);
	int rc = write_all(buf, len);
	free(buf);
	free(keys);
	free(k);
	free(n);
	return rc;
}

static int trace(void)
{
	Datadog__Trace__Span__MetaEntry me = DATADOG__TRACE__SPAN__META_ENTRY__INIT;
	me.key = "http.method";
	me.value = "GET";
	Datadog__Trace__Span__MetaEntry *mep = &me;
	Datadog__Trace__Span span = DATADOG__TRACE__SPAN__INIT;
	span.service = "svc";
	span.name = "aws.lambda";
	span.resource = "fn";
	span.traceid = 18446744073709551615ull; /* above int64: checks the string form */
	span.spanid = 42;
	span.start = 1700000000000000000ll;
	span.duration = 1500000;
	span.n_meta = 1;
	span.meta = &mep;
	Datadog__Trace__Span *spanp = &span;
	Datadog__Trace__TraceChunk ch = DATADOG__TRACE__TRACE_CHUNK__INIT;
	ch.priority = 1;
	ch.n_spans = 1;
	ch.spans = &spanp;
	Datadog__Trace__TraceChunk *chp = &ch;
	Datadog__Trace__TracerPayload tp = DATADOG__TRACE__TRACER_PAYLOAD__INIT;
	tp.languagename = "python";
	tp.n_chunks = 1;
	tp.chunks = &chp;
	Datadog__Trace__TracerPayload *tpp = &tp;
	Datadog__Trace__AgentPayload ap = DATADOG__TRACE__AGENT_PAYLOAD__INIT;
	ap.hostname = "host-a";
	ap.env = "test";
	ap.n_tracerpayloads = 1;
	ap.tracerpayloads = &tpp;
	size_t len = datadog__trace__agent_payload__get_packed_size(&ap);
	uint8_t *buf = malloc(len);
	if (!buf)
		return 1;
	datadog__trace__agent_payload__pack(&ap, buf);
	int rc = write_all(buf, len);
	free(buf);
	return rc;
}

static int stats(void)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "Env", 3);
	msgpack_pack_str_with_body(&pk, "test", 4);
	msgpack_pack_str_with_body(&pk, "Stats", 5);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "Hits", 4);
	msgpack_pack_uint64(&pk, 7);
	msgpack_pack_str_with_body(&pk, "Duration", 8);
	msgpack_pack_double(&pk, 2.5);
	int rc = write_all((const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static int deflate_stdin(void)
{
	size_t cap = 1 << 20, len = 0, r;
	uint8_t *in = malloc(cap);
	while (in && (r = fread(in + len, 1, cap - len, stdin)) > 0) {
		len += r;
		if (len == cap) {
			uint8_t *g = realloc(in, cap *= 2);
			if (!g)
				break;
			in = g;
		}
	}
	uLongf olen = compressBound(len);
	uint8_t *out = malloc(olen);
	if (!in || !out || compress2(out, &olen, in, len, 6) != Z_OK)
		return 1;
	int rc = write_all(out, olen);
	free(in);
	free(out);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "deflate") == 0)
		return deflate_stdin();
	if (argc >= 2 && strcmp(argv[1], "sketch") == 0)
		return sketch(argc - 2, argv + 2);
	if (argc == 2 && strcmp(argv[1], "trace") == 0)
		return trace();
	if (argc == 2 && strcmp(argv[1], "stats") == 0)
		return stats();
	fprintf(stderr, "usage: payload sketch METRIC VALUE... | trace | stats | deflate\n");
	return 2;
}
