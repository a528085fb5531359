/* fuzz_ik_aws_verify.c — libFuzzer target for fake-intake's SigV4 verifier
 * (deploy/intake/aws.c): the Authorization header, X-Amz-Date, Host, the
 * session token, method, path, query and body all come from the input
 * (split on NUL bytes). Whatever arrives, the verifier answers a status with
 * a code and message, or 0 — and 0 only for the one configured key. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *part[8] = {"POST", "/", "", "", "", "", "", ""};
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < 8; i++)
        if (buf[i] == '\0') {
            part[n++] = buf + start;
            start = i + 1;
        }
    json_t *h = json_object();
    json_object_set_new(h, "authorization", json_string(part[3]));
    json_object_set_new(h, "x-amz-date", json_string(part[4]));
    json_object_set_new(h, "host", json_string(part[5]));
    if (part[6][0])
        json_object_set_new(h, "x-amz-security-token", json_string(part[6]));
    static const struct ik_aws_cred creds[] = {{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "tok"}};
    const char *code = NULL, *msg = NULL;
    const char *body = part[7];
    int st = ik_aws_verify(part[0], part[1], part[2], h, (const uint8_t *)body, strlen(body), creds, 1,
                           "us-east-1", "kms", 1440938160, &code, &msg);
    if (st != 0 && (code == NULL || msg == NULL || st < 400 || st > 599))
        abort();
    json_decref(h);
    free(buf);
    return 0;
}
