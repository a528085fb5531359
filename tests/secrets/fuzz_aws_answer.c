/* fuzz_aws_answer.c — libFuzzer target for what AWS (or anything posing as
 * it) sends the flusher back: the JSON answers of GetSecretValue, Decrypt
 * and GetParameter, and the container credentials (flusher/aws_secrets.c),
 * plus the ARN region reader. The first byte picks the operation and the
 * HTTP status class; the rest is the body. Checks: a value handed back is
 * NUL-terminated within its buffer and holds no NUL; the key cleaner never
 * lengthens it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_secrets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (64u << 10))
        return 0;
    uint8_t sel = data[0];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    static const long statuses[] = {200, 400, 403, 503};
    long status = statuses[(sel >> 2) & 3];
    char value[AWS_KEY_MAX], code[AWS_CODE_MAX + 64];
    memset(value, 'x', sizeof value);
    switch (sel & 3) {
    case 0:
    case 1:
    case 2: {
        enum aws_op op = (sel & 3) == 0 ? AWS_OP_SM : (sel & 3) == 1 ? AWS_OP_KMS : AWS_OP_SSM;
        enum aws_answer a = aws_parse_answer(op, status, body, len, value, sizeof value, code, sizeof code);
        if (memchr(code, '\0', sizeof code) == NULL)
            abort();
        if (a == AWS_ANS_OK) {
            size_t n = strnlen(value, sizeof value);
            if (n == sizeof value)
                abort();
            size_t m = aws_key_clean(value);
            if (m > n || strlen(value) != m)
                abort();
        }
        break;
    }
    case 3: {
        struct aws_creds c;
        if (aws_parse_creds(status, body, len, &c, code, sizeof code) == 0 &&
            (strnlen(c.access_key_id, sizeof c.access_key_id) == sizeof c.access_key_id ||
             strnlen(c.session_token, sizeof c.session_token) == sizeof c.session_token))
            abort();
        /* the same bytes as an ARN */
        char arn[1024], region[64];
        size_t n = len < sizeof arn - 1 ? len : sizeof arn - 1;
        memcpy(arn, body, n);
        arn[n] = '\0';
        if (aws_arn_region(arn, region, sizeof region) == 0 && strlen(region) == 0)
            abort();
        break;
    }
    }
    return 0;
}
