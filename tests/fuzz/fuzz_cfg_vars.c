/* fuzz_cfg_vars.c — the start-up scan of the environment for DD_* variables
 * forkcap does not honour (common/cfg_vars.c). Input: the first byte picks
 * the output buffer size (0..255), the rest is split at '\n' into
 * environment entries. Invariants: the output is NUL-terminated within its
 * buffer, holds only names (no '='), and counts no more than there are
 * DD_ entries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_vars.h"

#define MAX_ENTRIES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cap = data[0];
    char *text = malloc(size);
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *envp[MAX_ENTRIES + 1];
    unsigned n = 0, dd = 0;
    for (char *p = text; n < MAX_ENTRIES;) {
        envp[n++] = p;
        if (strncmp(p, "DD_", 3) == 0 && strchr(p, '='))
            dd++;
        char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    envp[n] = NULL;
    char *out = malloc(cap ? cap : 1);
    if (out == NULL) {
        free(text);
        return 0;
    }
    unsigned found = cfg_unhonoured(envp, cap ? out : NULL, cap);
    if (found > dd)
        abort();
    if (cap) {
        if (memchr(out, '\0', cap) == NULL || strchr(out, '=') != NULL)
            abort();
    }
    free(out);
    free(text);
    return 0;
}
