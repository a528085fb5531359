/* aws.c — see aws.h. The verifier rebuilds the canonical request from what
 * arrived (the headers the Authorization header lists, the body as sent),
 * derives the signing key from the credential scope and compares. */
#include "aws.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define AWS_MAX_SKEW_S 300 /* AWS refuses a signature more than 5 minutes off */
#define AWS_MAX_CREDS 8

struct aws_fail {
	char target[128];
	char error[96];
	int status;
	long count; /* -1 = always */
	long delay_ms;
};

struct ik_aws {
	json_t *cfg;
	const char *region;
	struct ik_aws_cred creds[AWS_MAX_CREDS];
	size_t ncreds;
	const char *creds_path, *creds_auth;
	json_t *container_creds;
	struct aws_fail fails[32];
	size_t nfails;
};

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int add_cred(struct ik_aws *a, json_t *c)
{
	if (!json_is_object(c) || a->ncreds == AWS_MAX_CREDS || !jstr(c, "AccessKeyId") || !jstr(c, "SecretAccessKey"))
		return -1;
	a->creds[a->ncreds++] = (struct ik_aws_cred){ jstr(c, "AccessKeyId"), jstr(c, "SecretAccessKey"), jstr(c, "Token") };
	return 0;
}

struct ik_aws *ik_aws_load(const char *file, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		snprintf(err, errlen, "%s: %s (line %d)", file, j ? "not an object" : je.text, je.line);
		json_decref(j);
		return NULL;
	}
	struct ik_aws *a = calloc(1, sizeof(*a));
	if (!a) {
		json_decref(j);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->cfg = j;
	a->region = jstr(j, "region") ? jstr(j, "region") : "us-east-1";
	json_t *cl = json_object_get(j, "credentials"), *c;
	size_t i;
	if (json_is_object(cl) && add_cred(a, cl) != 0)
		goto bad_creds;
	json_array_foreach(cl, i, c)
		if (add_cred(a, c) != 0)
			goto bad_creds;
	json_t *ct = json_object_get(j, "container");
	if (ct) {
		a->creds_path = jstr(ct, "path");
		a->creds_auth = jstr(ct, "authorization");
		a->container_creds = json_object_get(ct, "credentials");
		if (!a->creds_path || a->creds_path[0] != '/' || !a->creds_auth || add_cred(a, a->container_creds) != 0) {
			snprintf(err, errlen, "%s: container needs path, authorization and credentials", file);
			ik_aws_free(a);
			return NULL;
		}
	}
	json_t *fl = json_object_get(j, "fail"), *f;
	json_array_foreach(fl, i, f) {
		if (a->nfails == sizeof(a->fails) / sizeof(a->fails[0]) || !jstr(f, "target") ||
		    strlen(jstr(f, "target")) >= sizeof(a->fails[0].target)) {
			snprintf(err, errlen, "%s: fail[%zu] needs a target (and at most 32 rules)", file, i);
			ik_aws_free(a);
			return NULL;
		}
		struct aws_fail *r = &a->fails[a->nfails++];
		snprintf(r->target, sizeof(r->target), "%s", jstr(f, "target"));
		snprintf(r->error, sizeof(r->error), "%s", jstr(f, "error") ? jstr(f, "error") : "");
		r->status = json_is_integer(json_object_get(f, "status")) ? (int)json_integer_value(json_object_get(f, "status"))
									   : 400;
		r->count = json_is_integer(json_object_get(f, "count")) ? (long)json_integer_value(json_object_get(f, "count")) : -1;
		if (r->status < 100 || r->status > 599 || (!r->error[0] && r->status < 500) || r->count == 0) {
			snprintf(err, errlen, "%s: fail[%zu]: status 100..599, an error for a 4xx, count > 0", file, i);
			ik_aws_free(a);
			return NULL;
		}
	}
	return a;
bad_creds:
	snprintf(err, errlen, "%s: credentials need AccessKeyId and SecretAccessKey", file);
	ik_aws_free(a);
	return NULL;
}

void ik_aws_free(struct ik_aws *a)
{
	if (!a)
		return;
	json_decref(a->cfg);
	free(a);
}

int ik_aws_route(const struct ik_aws *a, const char *method, const char *path, json_t *headers, char *route,
		 size_t cap)
{
	if (!a)
		return 0;
	if (a->creds_path && strcmp(method, "GET") == 0 && strcmp(path, a->creds_path) == 0) {
		snprintf(route, cap, "%s", path);
		return 1;
	}
	const char *t = jstr(headers, "x-amz-target");
	if (t && strcmp(method, "POST") == 0 && strcmp(path, "/") == 0) {
		snprintf(route, cap, "/aws/%.200s", t);
		return 1;
	}
	return 0;
}

/* ---- SigV4, this side's own --------------------------------------------- */

static void hexify(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void sha256_hex(const void *d, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int ml = 0;
	EVP_Digest(d, n, md, &ml, EVP_sha256(), NULL);
	hexify(md, 32, out);
}

static void mac(const void *k, size_t kl, const char *m, unsigned char out[32])
{
	unsigned int ol = 32;
	HMAC(EVP_sha256(), k, (int)kl, (const unsigned char *)m, strlen(m), out, &ol);
}

/* "a   b" -> "a b", ends trimmed */
static void put_folded(FILE *f, const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	int sp = 0;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			sp = 1;
			continue;
		}
		if (sp)
			fputc(' ', f);
		sp = 0;
		fputc(*v, f);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Query pairs sorted (the client encodes them). */
static void put_query(FILE *f, const char *q)
{
	if (!q || !*q)
		return;
	char *dup = strdup(q);
	if (!dup)
		return;
	char *parts[64];
	size_t n = 0;
	char *save = NULL;
	for (char *p = strtok_r(dup, "&", &save); p && n < 64; p = strtok_r(NULL, "&", &save))
		parts[n++] = p;
	qsort(parts, n, sizeof(parts[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc('&', f);
		fputs(parts[i], f);
		if (!strchr(parts[i], '='))
			fputc('=', f);
	}
	free(dup);
}

#define DENY(st, c, m) do { *code = (c); *message = (m); return (st); } while (0)

int ik_aws_verify(const char *method, const char *path, const char *query, json_t *headers, const uint8_t *body,
		  size_t len, const struct ik_aws_cred *creds, size_t n, const char *region, const char *service,
		  time_t now, const char **code, const char **message)
{
	const char *auth = jstr(headers, "authorization");
	if (!auth)
		DENY(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
	static const char alg[] = "AWS4-HMAC-SHA256 ";
	if (strncmp(auth, alg, sizeof(alg) - 1) != 0)
		DENY(400, "IncompleteSignatureException", "Unsupported authorization type");
	/* Credential=..., SignedHeaders=..., Signature=... */
	char cred[512] = "", signed_h[512] = "", sig[80] = "";
	const char *p = auth + sizeof(alg) - 1;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *eq = strchr(p, '=');
		if (!eq)
			break;
		size_t kl = (size_t)(eq - p);
		const char *v = eq + 1;
		size_t vl = strcspn(v, ",");
		char *dst = NULL;
		size_t cap = 0;
		if (kl == 10 && strncmp(p, "Credential", 10) == 0)
			dst = cred, cap = sizeof(cred);
		else if (kl == 13 && strncmp(p, "SignedHeaders", 13) == 0)
			dst = signed_h, cap = sizeof(signed_h);
		else if (kl == 9 && strncmp(p, "Signature", 9) == 0)
			dst = sig, cap = sizeof(sig);
		if (dst) {
			if (vl >= cap)
				DENY(400, "IncompleteSignatureException", "Authorization header component too long");
			memcpy(dst, v, vl);
			dst[vl] = '\0';
		}
		p = v + vl;
	}
	if (!cred[0] || !signed_h[0] || strlen(sig) != 64)
		DENY(400, "IncompleteSignatureException",
		     "Authorization header requires Credential, SignedHeaders and Signature");
	/* AKID/DATE/REGION/SERVICE/aws4_request */
	char *parts[6] = { 0 };
	size_t np = 0;
	char *save = NULL;
	for (char *t = strtok_r(cred, "/", &save); t && np < 6; t = strtok_r(NULL, "/", &save))
		parts[np++] = t;
	if (np != 5 || strcmp(parts[4], "aws4_request") != 0 || strlen(parts[1]) != 8)
		DENY(400, "IncompleteSignatureException", "Credential is not AKID/date/region/service/aws4_request");
	const struct ik_aws_cred *c = NULL;
	for (size_t i = 0; i < n; i++)
		if (creds[i].akid && strcmp(creds[i].akid, parts[0]) == 0)
			c = &creds[i];
	if (!c)
		DENY(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
	const char *tok = jstr(headers, "x-amz-security-token");
	if ((c->token && c->token[0]) ? (!tok || strcmp(tok, c->token) != 0) : tok != NULL)
		DENY(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
	const char *date = jstr(headers, "x-amz-date");
	struct tm tm = { 0 };
	if (!date || strlen(date) != 16 || !strptime(date, "%Y%m%dT%H%M%SZ", &tm))
		DENY(400, "IncompleteSignatureException", "X-Amz-Date is missing or not YYYYMMDDTHHMMSSZ");
	time_t t = timegm(&tm);
	if (t < now - AWS_MAX_SKEW_S || t > now + AWS_MAX_SKEW_S)
		DENY(403, "InvalidSignatureException", "Signature expired: the request time is more than 5 minutes off");
	if (strncmp(parts[1], date, 8) != 0)
		DENY(403, "InvalidSignatureException",
		     "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP");
	if (region && strcmp(parts[2], region) != 0)
		DENY(403, "InvalidSignatureException", "Credential should be scoped to a valid region.");
	if (service && strcmp(parts[3], service) != 0)
		DENY(403, "InvalidSignatureException", "Credential should be scoped to correct service.");

	char *creq = NULL;
	size_t creq_len = 0;
	FILE *f = open_memstream(&creq, &creq_len);
	if (!f)
		DENY(500, "InternalFailure", "out of memory");
	fprintf(f, "%s\n%s\n", method, path);
	put_query(f, query);
	fputc('\n', f);
	int has_host = 0;
	char sh[512];
	snprintf(sh, sizeof(sh), "%s", signed_h);
	save = NULL;
	int bad = 0;
	for (char *h = strtok_r(sh, ";", &save); h; h = strtok_r(NULL, ";", &save)) {
		const char *v = jstr(headers, h);
		if (strcmp(h, "host") == 0) {
			has_host = 1;
			if (!v)
				v = jstr(headers, ":authority");
		}
		if (!v) {
			bad = 1;
			break;
		}
		fprintf(f, "%s:", h);
		put_folded(f, v);
		fputc('\n', f);
	}
	char bh[65];
	sha256_hex(body ? (const void *)body : "", len, bh);
	fprintf(f, "\n%s\n%s", signed_h, bh);
	fclose(f);
	if (bad || !has_host) {
		free(creq);
		DENY(400, "IncompleteSignatureException", "SignedHeaders must name host and only headers that were sent");
	}
	char ch[65];
	sha256_hex(creq, creq_len, ch);
	free(creq);
	char sts[512];
	snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", date, parts[1], parts[2], parts[3],
		 ch);
	char k0[300];
	snprintf(k0, sizeof(k0), "AWS4%s", c->secret);
	unsigned char k1[32], k2[32], k3[32], k4[32], out[32];
	mac(k0, strlen(k0), parts[1], k1);
	mac(k1, 32, parts[2], k2);
	mac(k2, 32, parts[3], k3);
	mac(k3, 32, "aws4_request", k4);
	mac(k4, 32, sts, out);
	char want[65];
	hexify(out, 32, want);
	if (CRYPTO_memcmp(want, sig, 64) != 0)
		DENY(403, "InvalidSignatureException",
		     "The request signature we calculated does not match the signature you provided. Check your AWS "
		     "Secret Access Key and signing method.");
	return 0;
}

/* ---- the APIs ------------------------------------------------------------ */

static char *error_body(const char *code, const char *message)
{
	json_t *j = json_pack("{s:s,s:s}", "__type", code, "message", message);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static int arn_region(const char *arn, char *out, size_t cap)
{
	if (strncmp(arn, "arn:", 4) != 0)
		return -1;
	const char *p = arn;
	for (int i = 0; i < 3 && p; i++)
		if ((p = strchr(p, ':')))
			p++;
	if (!p)
		return -1;
	size_t l = strcspn(p, ":");
	if (l == 0 || l >= cap || p[l] != ':')
		return -1;
	memcpy(out, p, l);
	out[l] = '\0';
	return 0;
}

static struct aws_fail *fail_for(struct ik_aws *a, const char *target)
{
	for (size_t i = 0; i < a->nfails; i++) {
		struct aws_fail *r = &a->fails[i];
		if (strcmp(r->target, "*") != 0 && strcmp(r->target, target) != 0)
			continue;
		return r;
	}
	return NULL;
}

static void spend(struct ik_aws *a, struct aws_fail *r)
{
	if (r->count > 0 && --r->count == 0) {
		size_t i = (size_t)(r - a->fails);
		memmove(r, r + 1, (a->nfails - i - 1) * sizeof(*r));
		a->nfails--;
	}
}

static int context_equal(json_t *want, json_t *got)
{
	if (!want || json_object_size(want) == 0)
		return !got || json_object_size(got) == 0;
	return json_is_object(got) && json_equal(want, got);
}

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

void ik_aws_answer(struct ik_aws *a, const char *method, const char *path, const char *query, json_t *headers,
		   const uint8_t *body, size_t len, time_t now, int *status, char **resp, json_t *info)
{
	*resp = NULL;
	char route[256];
	ik_aws_route(a, method, path, headers, route, sizeof(route));
	struct aws_fail *inj = fail_for(a, route[0] == '/' && strncmp(route, "/aws/", 5) == 0 ? route + 5 : route);
	if (a->creds_path && strcmp(path, a->creds_path) == 0) {
		json_object_set_new(info, "target", json_string("credentials"));
		const char *got = jstr(headers, "authorization");
		if (!got || strcmp(got, a->creds_auth) != 0) {
			*status = 403;
			*resp = error_body("AccessDeniedException", "Authorization token does not match");
		} else if (inj) {
			*status = inj->status;
			*resp = error_body(inj->error[0] ? inj->error : "InternalFailure", "injected failure");
			json_object_set_new(info, "injected", json_string(inj->error));
			spend(a, inj);
		} else {
			json_t *c = json_deep_copy(a->container_creds);
			json_object_set_new(c, "Expiration", json_string("2099-01-01T00:00:00Z"));
			*status = 200;
			*resp = json_dumps(c, JSON_COMPACT);
			json_decref(c);
		}
		json_object_set_new(info, "verdict", json_string(*status == 200 ? "ok" : "denied"));
		return;
	}
	const char *target = jstr(headers, "x-amz-target");
	json_object_set_new(info, "target", json_string(target));
	const char *service = NULL;
	if (strncmp(target, "secretsmanager.", 15) == 0)
		service = "secretsmanager";
	else if (strncmp(target, "TrentService.", 13) == 0)
		service = "kms";
	else if (strncmp(target, "AmazonSSM.", 10) == 0)
		service = "ssm";
	json_error_t je;
	json_t *req = json_loadb((const char *)body, len, 0, &je);
	char region[64];
	snprintf(region, sizeof(region), "%s", a->region);
	const char *sid = jstr(req, "SecretId");
	if (service && strcmp(service, "secretsmanager") == 0 && sid && arn_region(sid, region, sizeof(region)) != 0)
		snprintf(region, sizeof(region), "%s", a->region);
	const char *pname = jstr(req, "Name");
	if (service && strcmp(service, "ssm") == 0 && pname && arn_region(pname, region, sizeof(region)) != 0)
		snprintf(region, sizeof(region), "%s", a->region);
	json_object_set_new(info, "expected_region", json_string(region));
	const char *code = NULL, *msg = NULL;
	int st = ik_aws_verify(method, path, query, headers, body, len, a->creds, a->ncreds, region, service, now, &code,
			       &msg);
	json_object_set_new(info, "verdict", json_string(st ? code : "ok"));
	if (st) {
		*status = st;
		*resp = error_body(code, msg);
		json_decref(req);
		return;
	}
	if (inj) {
		*status = inj->status;
		*resp = error_body(inj->error[0] ? inj->error : "InternalFailure", "injected failure");
		json_object_set_new(info, "injected", json_string(inj->error));
		spend(a, inj);
		json_decref(req);
		return;
	}
	if (!json_is_object(req)) {
		*status = 400;
		*resp = error_body("SerializationException", "body is not a JSON object");
		return;
	}
	*status = 400;
	if (strcmp(target, "secretsmanager.GetSecretValue") == 0) {
		const char *v = sid ? jstr(json_object_get(a->cfg, "secrets"), sid) : NULL;
		if (!v) {
			*resp = error_body("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
		} else {
			*status = 200;
			json_t *o = json_pack("{s:s,s:s,s:s,s:[s],s:f}", "ARN", sid, "Name", sid, "SecretString", v,
					      "VersionStages", "AWSCURRENT", "CreatedDate", 1.7e9);
			*resp = json_dumps(o, JSON_COMPACT);
			json_decref(o);
		}
	} else if (strcmp(target, "TrentService.Decrypt") == 0) {
		const char *ct = jstr(req, "CiphertextBlob");
		json_t *ctx = json_object_get(req, "EncryptionContext");
		json_object_set_new(info, "encryption_context", json_incref(ctx ? ctx : json_null()));
		json_t *e, *hit = NULL;
		size_t i;
		json_array_foreach(json_object_get(a->cfg, "kms"), i, e)
			if (ct && jstr(e, "ciphertext") && strcmp(jstr(e, "ciphertext"), ct) == 0)
				hit = e;
		if (!hit || !jstr(hit, "plaintext") || !context_equal(json_object_get(hit, "context"), ctx)) {
			*resp = error_body("InvalidCiphertextException", "");
		} else {
			char *pt = b64(jstr(hit, "plaintext"));
			char karn[160];
			snprintf(karn, sizeof(karn), "arn:aws:kms:%s:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
				 region);
			json_t *o = json_pack("{s:s,s:s,s:s}", "KeyId", karn, "Plaintext", pt ? pt : "",
					      "EncryptionAlgorithm", "SYMMETRIC_DEFAULT");
			*status = 200;
			*resp = json_dumps(o, JSON_COMPACT);
			json_decref(o);
			free(pt);
		}
	} else if (strcmp(target, "AmazonSSM.GetParameter") == 0) {
		/* a parameter ARN (arn:aws:ssm:R:A:parameter/x/y) names /x/y */
		const char *name = jstr(req, "Name");
		char from_arn[512];
		const char *pp = name && strncmp(name, "arn:", 4) == 0 ? strstr(name, ":parameter/") : NULL;
		if (pp) {
			snprintf(from_arn, sizeof(from_arn), "/%s", pp + 11);
			name = from_arn;
		}
		const char *v = name ? jstr(json_object_get(a->cfg, "ssm"), name) : NULL;
		json_object_set_new(info, "with_decryption", json_boolean(json_is_true(json_object_get(req, "WithDecryption"))));
		if (!v) {
			*resp = error_body("ParameterNotFound", "");
		} else {
			int dec = json_is_true(json_object_get(req, "WithDecryption"));
			json_t *o = json_pack("{s:{s:s,s:s,s:s,s:i}}", "Parameter", "Name", name, "Type", "SecureString",
					      "Value", dec ? v : "AQICAHhEncryptedValueNotDecrypted", "Version", 1);
			*status = 200;
			*resp = json_dumps(o, JSON_COMPACT);
			json_decref(o);
		}
	} else {
		*resp = error_body("UnknownOperationException", "");
	}
	json_decref(req);
}
