/* aws.h — fake-intake's AWS side: Secrets Manager GetSecretValue, KMS Decrypt,
 * SSM GetParameter (AWS JSON 1.1 POSTs, told apart by X-Amz-Target) and a
 * container-credentials endpoint (SnapStart), from a JSON file (--aws FILE).
 * Every AWS call is checked with this file's own SigV4 verifier; a bad
 * signature, date, region, service, key or token is a 403 in AWS's JSON
 * error shape. Failures can be injected per target (README.md). */
#ifndef IK_AWS_H
#define IK_AWS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

struct ik_aws;

/* Load the JSON configuration; NULL with a reason in err. */
struct ik_aws *ik_aws_load(const char *file, char *err, size_t errlen);
void ik_aws_free(struct ik_aws *a);

/* Is this request for the AWS side? Then route gets the name failure rules
 * and stats use for it: "/aws/<X-Amz-Target>" or the credentials path. */
int ik_aws_route(const struct ik_aws *a, const char *method, const char *path, json_t *headers, char *route,
		 size_t cap);

/* Answer it: *status, *resp (malloc'd JSON text); info gets what the
 * capture line shows ({"target","region","verdict",...}). now = unix time. */
void ik_aws_answer(struct ik_aws *a, const char *method, const char *path, const char *query, json_t *headers,
		   const uint8_t *body, size_t len, time_t now, int *status, char **resp, json_t *info);

struct ik_aws_cred {
	const char *akid, *secret, *token; /* token NULL or "" = none expected */
};

/* SigV4 check alone (fuzzed): 0 = valid, else an HTTP status with code and
 * message set. The access key picks the credential among creds[n];
 * region/service: what the scope must say (NULL = any). headers: lower-case
 * names (as the capture holds them). */
int ik_aws_verify(const char *method, const char *path, const char *query, json_t *headers, const uint8_t *body,
		  size_t len, const struct ik_aws_cred *creds, size_t n, const char *region, const char *service,
		  time_t now, const char **code, const char **message);

#endif
