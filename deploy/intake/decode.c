/* decode.c — body decoding for the fake intake (see decode.h). All sizes are
 * bounded: output never grows past IK_MAX_DECODED, nesting is limited. */
#include "decode.h"

#include <fenv.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "mpwalk.h"
#include "sketch.pb-c.h"
#include "trace.pb-c.h"

#define MAX_DEPTH 64
#define MP_MAX_VALUES (1u << 20) /* msgpack values in one body */

const char *ik_kind_name(enum ik_kind k)
{
	static const char *const names[] = { "series", "sketches", "logs", "traces", "stats", "validate", "other" };
	return (unsigned)k <= IK_OTHER ? names[k] : "other";
}

json_t *ik_json_str(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	if (j)
		return j;
	/* not UTF-8: keep ASCII, mark every other byte */
	char *c = malloc(len + 1);
	if (!c)
		return json_string("");
	for (size_t i = 0; i < len; i++)
		c[i] = ((unsigned char)s[i] < 0x80 && s[i] != '\0') ? s[i] : '?';
	j = json_stringn(c, len);
	free(c);
	return j ? j : json_string("");
}

static json_t *jstr(const char *s)
{
	return ik_json_str(s ? s : "", s ? strlen(s) : 0);
}

/* ---------- Content-Encoding ---------- */

struct growbuf {
	uint8_t *p;
	size_t len, cap;
};

/* Makes room for at least one more byte of output; -1 when over the cap. */
static int grow(struct growbuf *b)
{
	if (b->len < b->cap)
		return 0;
	if (b->cap > IK_MAX_DECODED)
		return -1;
	size_t cap = b->cap ? b->cap * 2 : 64 * 1024;
	if (cap > IK_MAX_DECODED + 1)
		cap = IK_MAX_DECODED + 1;
	uint8_t *n = realloc(b->p, cap);
	if (!n)
		return -2;
	b->p = n;
	b->cap = cap;
	return 0;
}

static int zstd_decode(const uint8_t *in, size_t len, struct growbuf *out, const char **err)
{
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	if (!dc) {
		*err = "out of memory";
		return 500;
	}
	/* refuse frames that want a window over 64 MiB: memory stays bounded */
	ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, 26);
	ZSTD_inBuffer ib = { in, len, 0 };
	size_t ret = 1;
	int status = 0;
	while (ib.pos < ib.size || ret != 0) {
		int g = grow(out);
		if (g) {
			*err = g == -1 ? "decoded body larger than 64 MiB" : "out of memory";
			status = g == -1 ? 413 : 500;
			break;
		}
		ZSTD_outBuffer ob = { out->p, out->cap, out->len };
		ret = ZSTD_decompressStream(dc, &ob, &ib);
		if (ZSTD_isError(ret)) {
			*err = "corrupt zstd data";
			status = 400;
			break;
		}
		int progressed = ob.pos > out->len;
		out->len = ob.pos;
		if (out->len > IK_MAX_DECODED) {
			*err = "decoded body larger than 64 MiB";
			status = 413;
			break;
		}
		if (ib.pos == ib.size && ret != 0 && !progressed && out->len < out->cap) {
			*err = "truncated zstd data";
			status = 400;
			break;
		}
	}
	ZSTD_freeDCtx(dc);
	return status;
}

static int zlib_decode(const uint8_t *in, size_t len, int wbits, struct growbuf *out, const char **err)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, wbits) != Z_OK) {
		*err = "out of memory";
		return 500;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	int status = 0, done = 0;
	while (!done) {
		int g = grow(out);
		if (g) {
			*err = g == -1 ? "decoded body larger than 64 MiB" : "out of memory";
			status = g == -1 ? 413 : 500;
			break;
		}
		zs.next_out = out->p + out->len;
		zs.avail_out = (uInt)(out->cap - out->len);
		int r = inflate(&zs, Z_NO_FLUSH);
		out->len = out->cap - zs.avail_out;
		if (out->len > IK_MAX_DECODED) {
			*err = "decoded body larger than 64 MiB";
			status = 413;
			break;
		}
		if (r == Z_STREAM_END) {
			/* gzip allows several members one after the other */
			if (zs.avail_in > 0 && wbits > 15) {
				inflateReset(&zs);
				continue;
			}
			if (zs.avail_in > 0) {
				*err = "data after the end of the compressed stream";
				status = 400;
			}
			done = 1;
		} else if (r == Z_BUF_ERROR && zs.avail_in == 0) {
			*err = "truncated compressed data";
			status = 400;
			done = 1;
		} else if (r != Z_OK && r != Z_BUF_ERROR) {
			*err = wbits > 15 ? "corrupt gzip data" : "corrupt deflate data";
			status = 400;
			done = 1;
		}
	}
	inflateEnd(&zs);
	return status;
}

int ik_decode_content(const char *encoding, const uint8_t *in, size_t len, uint8_t **out,
		      size_t *out_len, const char **err)
{
	struct growbuf b = { NULL, 0, 0 };
	int status;
	*out = NULL;
	*out_len = 0;
	if (!encoding || !*encoding || strcasecmp(encoding, "identity") == 0) {
		b.p = malloc(len ? len : 1);
		if (!b.p) {
			*err = "out of memory";
			return 500;
		}
		if (len)
			memcpy(b.p, in, len);
		b.len = len;
		status = 0;
	} else if (strcasecmp(encoding, "zstd") == 0) {
		status = zstd_decode(in, len, &b, err);
	} else if (strcasecmp(encoding, "gzip") == 0 || strcasecmp(encoding, "x-gzip") == 0) {
		status = zlib_decode(in, len, 15 + 16, &b, err);
	} else if (strcasecmp(encoding, "deflate") == 0) {
		/* HTTP's deflate is the zlib format, but raw deflate is common too */
		int zlib_hdr = len >= 2 && (in[0] & 0x0f) == 8 && ((in[0] << 8) | in[1]) % 31 == 0;
		status = zlib_decode(in, len, zlib_hdr ? 15 : -15, &b, err);
	} else {
		*err = "unsupported Content-Encoding";
		return 415;
	}
	if (status) {
		free(b.p);
		return status;
	}
	if (!b.p && !(b.p = malloc(1))) {
		*err = "out of memory";
		return 500;
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}

/* ---------- sketches ---------- */

#define DD_GAMMA 1.015625
#define DD_BIAS 1338
#define DD_INF_KEY 32767

/* a bin's lower bound, as the agent's Config.f64 */
static double key_low(int32_t k)
{
	if (k < 0)
		return -key_low(-k);
	if (k == 0)
		return 0;
	if (k >= DD_INF_KEY)
		return INFINITY;
	return pow(DD_GAMMA, (double)(k - DD_BIAS));
}

double ik_sketch_quantile(const int32_t *k, const uint32_t *n, size_t nbins, double min,
			  double max, double q)
{
	double count = 0;
	for (size_t i = 0; i < nbins; i++)
		count += n[i];
	if (count == 0)
		return 0;
	if (q <= 0)
		return min;
	if (q >= 1)
		return max;
	int mode = fegetround();
	fesetround(FE_TONEAREST);
	double want = nearbyint(q * (count - 1)); /* round half to even, like Go's RoundToEven */
	fesetround(mode);
	double acc = 0;
	for (size_t i = 0; i < nbins; i++) {
		acc += n[i];
		if (acc <= want)
			continue;
		double weight = (acc - want) / n[i];
		double lo = key_low(k[i]);
		double hi = lo * DD_GAMMA;
		/* the agent bounds the first bin by the sketch's minimum */
		if (i == 0)
			lo = min;
		return lo * weight + hi * (1 - weight);
	}
	return NAN;
}

static json_t *jreal(double v)
{
	/* JSON has no NaN/Inf: those become null */
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *sketches_json(const uint8_t *body, size_t len, const char **err)
{
	Datadog__Agentpayload__SketchPayload *sp = datadog__agentpayload__sketch_payload__unpack(NULL, len, body);
	if (!sp) {
		*err = "not a SketchPayload protobuf";
		return NULL;
	}
	json_t *root = json_object();
	json_t *arr = json_array();
	json_object_set_new(root, "sketches", arr);
	for (size_t i = 0; i < sp->n_sketches; i++) {
		const Datadog__Agentpayload__SketchPayload__Sketch *s = sp->sketches[i];
		json_t *js = json_object();
		json_object_set_new(js, "metric", jstr(s->metric));
		json_object_set_new(js, "host", jstr(s->host));
		json_t *tags = json_array();
		for (size_t t = 0; t < s->n_tags; t++)
			json_array_append_new(tags, jstr(s->tags[t]));
		json_object_set_new(js, "tags", tags);
		json_t *dss = json_array();
		for (size_t d = 0; d < s->n_dogsketches; d++) {
			const Datadog__Agentpayload__SketchPayload__Sketch__Dogsketch *ds = s->dogsketches[d];
			if (ds->n_k != ds->n_n) {
				*err = "dogsketch k and n differ in length";
				json_decref(dss); /* not yet attached to js, nor js to root */
				json_decref(js);
				json_decref(root);
				datadog__agentpayload__sketch_payload__free_unpacked(sp, NULL);
				return NULL;
			}
			json_t *jd = json_object();
			json_object_set_new(jd, "ts", json_integer(ds->ts));
			json_object_set_new(jd, "cnt", json_integer(ds->cnt));
			json_object_set_new(jd, "min", jreal(ds->min));
			json_object_set_new(jd, "max", jreal(ds->max));
			json_object_set_new(jd, "avg", jreal(ds->avg));
			json_object_set_new(jd, "sum", jreal(ds->sum));
			json_t *jk = json_array(), *jn = json_array();
			for (size_t b = 0; b < ds->n_k; b++) {
				json_array_append_new(jk, json_integer(ds->k[b]));
				json_array_append_new(jn, json_integer(ds->n[b]));
			}
			json_object_set_new(jd, "k", jk);
			json_object_set_new(jd, "n", jn);
			json_t *jq = json_object();
			static const struct { const char *name; double q; } qs[] = {
				{ "0.5", 0.5 }, { "0.9", 0.9 }, { "0.99", 0.99 } };
			for (size_t qi = 0; qi < sizeof(qs) / sizeof(qs[0]); qi++)
				json_object_set_new(jq, qs[qi].name,
						    jreal(ik_sketch_quantile(ds->k, ds->n, ds->n_k, ds->min, ds->max, qs[qi].q)));
			json_object_set_new(jd, "q", jq);
			json_array_append_new(dss, jd);
		}
		json_object_set_new(js, "dogsketches", dss);
		json_array_append_new(arr, js);
	}
	json_t *md = json_null();
	if (sp->metadata) {
		const Datadog__Agentpayload__CommonMetadata *m = sp->metadata;
		md = json_object();
		json_object_set_new(md, "agent_version", jstr(m->agent_version));
		json_object_set_new(md, "timezone", jstr(m->timezone));
		json_object_set_new(md, "current_epoch", jreal(m->current_epoch));
		json_object_set_new(md, "internal_ip", jstr(m->internal_ip));
		json_object_set_new(md, "public_ip", jstr(m->public_ip));
		json_object_set_new(md, "api_key", jstr(m->api_key));
	}
	json_object_set_new(root, "metadata", md);
	datadog__agentpayload__sketch_payload__free_unpacked(sp, NULL);
	return root;
}

/* ---------- traces ---------- */

/* uint64 ids: a JSON integer while a double holds it exactly (jq and most
 * JSON readers use doubles), else a decimal string */
static json_t *ju64(uint64_t v)
{
	if (v <= (1ull << 53))
		return json_integer((json_int_t)v);
	char buf[24];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_string(buf);
}

static json_t *span_json(const Datadog__Trace__Span *s)
{
	json_t *j = json_object();
	json_object_set_new(j, "service", jstr(s->service));
	json_object_set_new(j, "name", jstr(s->name));
	json_object_set_new(j, "resource", jstr(s->resource));
	json_object_set_new(j, "traceID", ju64(s->traceid));
	json_object_set_new(j, "spanID", ju64(s->spanid));
	json_object_set_new(j, "parentID", ju64(s->parentid));
	json_object_set_new(j, "start", json_integer(s->start));
	json_object_set_new(j, "duration", json_integer(s->duration));
	json_object_set_new(j, "error", json_integer(s->error));
	json_t *meta = json_object();
	for (size_t i = 0; i < s->n_meta; i++) {
		json_t *k = jstr(s->meta[i]->key);
		json_object_set_new(meta, json_string_value(k), jstr(s->meta[i]->value));
		json_decref(k);
	}
	json_object_set_new(j, "meta", meta);
	json_t *metrics = json_object();
	for (size_t i = 0; i < s->n_metrics; i++) {
		json_t *k = jstr(s->metrics[i]->key);
		json_object_set_new(metrics, json_string_value(k), jreal(s->metrics[i]->value));
		json_decref(k);
	}
	json_object_set_new(j, "metrics", metrics);
	json_object_set_new(j, "type", jstr(s->type));
	return j;
}

/* protobuf map entries all have key/value strings; collect them generically */
#define MAP_JSON(arr, n) map_json_impl((void *const *)(arr), (n))
struct kv_entry {
	ProtobufCMessage base;
	char *key;
	char *value;
};
static json_t *map_json_impl(void *const *arr, size_t n)
{
	json_t *m = json_object();
	for (size_t i = 0; i < n; i++) {
		const struct kv_entry *e = arr[i];
		json_t *k = jstr(e->key);
		json_object_set_new(m, json_string_value(k), jstr(e->value));
		json_decref(k);
	}
	return m;
}

static json_t *traces_json(const uint8_t *body, size_t len, const char **err)
{
	Datadog__Trace__AgentPayload *ap = datadog__trace__agent_payload__unpack(NULL, len, body);
	if (!ap) {
		*err = "not an AgentPayload protobuf";
		return NULL;
	}
	json_t *root = json_object();
	json_object_set_new(root, "hostName", jstr(ap->hostname));
	json_object_set_new(root, "env", jstr(ap->env));
	json_object_set_new(root, "agentVersion", jstr(ap->agentversion));
	json_object_set_new(root, "targetTPS", jreal(ap->targettps));
	json_object_set_new(root, "errorTPS", jreal(ap->errortps));
	json_object_set_new(root, "rareSamplerEnabled", json_boolean(ap->raresamplerenabled));
	json_object_set_new(root, "tags", MAP_JSON(ap->tags, ap->n_tags));
	json_t *tps = json_array();
	for (size_t i = 0; i < ap->n_tracerpayloads; i++) {
		const Datadog__Trace__TracerPayload *tp = ap->tracerpayloads[i];
		json_t *jt = json_object();
		json_object_set_new(jt, "containerID", jstr(tp->containerid));
		json_object_set_new(jt, "languageName", jstr(tp->languagename));
		json_object_set_new(jt, "languageVersion", jstr(tp->languageversion));
		json_object_set_new(jt, "tracerVersion", jstr(tp->tracerversion));
		json_object_set_new(jt, "runtimeID", jstr(tp->runtimeid));
		json_object_set_new(jt, "env", jstr(tp->env));
		json_object_set_new(jt, "hostname", jstr(tp->hostname));
		json_object_set_new(jt, "appVersion", jstr(tp->appversion));
		json_object_set_new(jt, "tags", MAP_JSON(tp->tags, tp->n_tags));
		json_t *chunks = json_array();
		for (size_t c = 0; c < tp->n_chunks; c++) {
			const Datadog__Trace__TraceChunk *ch = tp->chunks[c];
			json_t *jc = json_object();
			json_object_set_new(jc, "priority", json_integer(ch->priority));
			json_object_set_new(jc, "origin", jstr(ch->origin));
			json_object_set_new(jc, "droppedTrace", json_boolean(ch->droppedtrace));
			json_object_set_new(jc, "tags", MAP_JSON(ch->tags, ch->n_tags));
			json_t *spans = json_array();
			for (size_t s = 0; s < ch->n_spans; s++)
				json_array_append_new(spans, span_json(ch->spans[s]));
			json_object_set_new(jc, "spans", spans);
			json_array_append_new(chunks, jc);
		}
		json_object_set_new(jt, "chunks", chunks);
		json_array_append_new(tps, jt);
	}
	json_object_set_new(root, "tracerPayloads", tps);
	datadog__trace__agent_payload__free_unpacked(ap, NULL);
	return root;
}

/* ---------- msgpack (trace stats) ---------- */

static json_t *b64_json(const uint8_t *d, size_t n)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t ol = 4 * ((n + 2) / 3);
	char *o = malloc(ol + 1);
	if (!o)
		return json_null();
	size_t j = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
		o[j++] = tbl[(v >> 18) & 63];
		o[j++] = tbl[(v >> 12) & 63];
		o[j++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		o[j++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	json_t *r = json_stringn(o, j);
	free(o);
	return r;
}

json_t *ik_base64(const uint8_t *d, size_t n)
{
	return b64_json(d, n);
}

static json_t *mp_json(const msgpack_object *o, int depth)
{
	if (depth > MAX_DEPTH)
		return json_null();
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return ju64(o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer(o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return jreal(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return ik_json_str(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return b64_json((const uint8_t *)o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_EXT: {
		json_t *e = json_object();
		json_object_set_new(e, "ext", json_integer(o->via.ext.type));
		json_object_set_new(e, "data", b64_json((const uint8_t *)o->via.ext.ptr, o->via.ext.size));
		return e;
	}
	case MSGPACK_OBJECT_ARRAY: {
		json_t *a = json_array();
		for (uint32_t i = 0; i < o->via.array.size; i++)
			json_array_append_new(a, mp_json(&o->via.array.ptr[i], depth + 1));
		return a;
	}
	case MSGPACK_OBJECT_MAP: {
		json_t *m = json_object();
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object *k = &o->via.map.ptr[i].key;
			json_t *v = mp_json(&o->via.map.ptr[i].val, depth + 1);
			if (k->type == MSGPACK_OBJECT_STR) {
				json_t *ks = ik_json_str(k->via.str.ptr, k->via.str.size);
				json_object_set_new(m, json_string_value(ks), v);
				json_decref(ks);
			} else {
				/* JSON keys are strings: print a scalar key as its JSON
				 * text; a container key is named by its kind only, since
				 * nesting text-in-text grows exponentially with escaping */
				if (k->type == MSGPACK_OBJECT_ARRAY || k->type == MSGPACK_OBJECT_MAP) {
					json_object_set_new(m, k->type == MSGPACK_OBJECT_MAP ? "<map>" : "<array>", v);
					continue;
				}
				json_t *kj = mp_json(k, depth + 1);
				char *kt = json_dumps(kj, JSON_ENCODE_ANY | JSON_COMPACT);
				json_object_set_new(m, kt ? kt : "?", v);
				free(kt);
				json_decref(kj);
			}
		}
		return m;
	}
	}
	return json_null();
}

static json_t *stats_json(const uint8_t *body, size_t len, const char **err)
{
	/* the walk first: msgpack-c would allocate for a declared count before
	 * reading the elements */
	const struct mpw_limits lim = { MAX_DEPTH, MP_MAX_VALUES, IK_MAX_DECODED };
	int rc = mpw_check(body, len, &lim, NULL, 0);
	if (rc == MPW_TRAILING) {
		*err = "bytes after the msgpack object";
		return NULL;
	}
	if (rc != MPW_OK) {
		*err = "malformed msgpack";
		return NULL;
	}
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	json_t *r = NULL;
	if (msgpack_unpack_next(&u, (const char *)body, len, &off) == MSGPACK_UNPACK_SUCCESS)
		r = mp_json(&u.data, 0);
	else
		*err = "malformed msgpack";
	msgpack_unpacked_destroy(&u);
	return r;
}

json_t *ik_decode_body(enum ik_kind kind, const uint8_t *body, size_t len, const char **err)
{
	if (len == 0)
		return json_null();
	switch (kind) {
	case IK_SKETCHES:
		return sketches_json(body, len, err);
	case IK_TRACES:
		return traces_json(body, len, err);
	case IK_STATS:
		return stats_json(body, len, err);
	default: {
		json_error_t je;
		json_t *j = json_loadb((const char *)body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		if (!j)
			*err = "body is not valid JSON";
		return j;
	}
	}
}
