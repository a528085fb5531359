/* sup_cli.c — forkcap run by hand: --version, --help, check. Lambda starts
 * extensions without arguments, so main() only comes here when argc > 1 and
 * the start path pays one comparison. */
#include "sup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_vars.h"
#include "config.h"
#include "fl_check.h"
#include "log.h"

#ifndef FORKCAP_VERSION
#define FORKCAP_VERSION "dev"
#endif
#ifndef FORKCAP_COMMIT
#define FORKCAP_COMMIT "unknown"
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: forkcap [--version | --help | check [--ca-file PATH] [--budget-ms N]]\n"
               "Without arguments forkcap runs as an AWS Lambda extension (Lambda starts it).\n");
}

static void help(void)
{
    usage(stdout);
    printf("\noptions\n"
           "  --version, -V          print the version and exit\n"
           "  --help, -h             print this help and exit\n"
           "  check                  outside Lambda: load the configuration as at start, print the\n"
           "                         effective settings, endpoints, CA store and proxy decisions, try\n"
           "                         the key and one post per endpoint; exit 0 when it works, 1 if not\n"
           "  check --ca-file PATH   use PATH as the system CA bundle (default: searched as in Lambda)\n"
           "  check --budget-ms N    time allowed for the network steps (default 10000)\n"
           "\nenvironment (Datadog's names and defaults; see docs/migrating.md)\n");
    for (const struct cfg_var *v = cfg_vars; v->name; v++)
        printf("  %-32s %s\n", v->name, v->help);
}

/* Outside Lambda there is no Runtime API; everything else is read exactly
 * as the extension reads it at start. */
static const char *check_getenv(const char *name, void *arg)
{
    (void)arg;
    const char *v = getenv(name);
    if (v == NULL && strcmp(name, "AWS_LAMBDA_RUNTIME_API") == 0)
        return "127.0.0.1:9001";
    return v;
}

static int check(int argc, char **argv)
{
    struct fl_check_opts o = {.version = FORKCAP_VERSION};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--ca-file") == 0 && i + 1 < argc) {
            o.ca_file = argv[++i];
        } else if (strcmp(argv[i], "--budget-ms") == 0 && i + 1 < argc) {
            char *end;
            long b = strtol(argv[++i], &end, 10);
            if (*end || b <= 0 || b > 600000) {
                fprintf(stderr, "forkcap check: --budget-ms wants 1..600000\n");
                return 2;
            }
            o.budget_ms = b;
        } else {
            fprintf(stderr, "forkcap check: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    static struct cfg c;
    log_set_component("check");
    if (cfg_load(&c, check_getenv, NULL) < 0) {
        fprintf(stderr, "forkcap check: %s\n", c.error);
        return 1;
    }
    printf("forkcap %s (%s) check\n", FORKCAP_VERSION, FORKCAP_COMMIT);
    return fl_check_run(&c, &o, stdout, stderr);
}

int sup_cli(int argc, char **argv)
{
    const char *a = argv[1];
    if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
        printf("forkcap %s (%s)\n", FORKCAP_VERSION, FORKCAP_COMMIT);
        return 0;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        help();
        return 0;
    }
    if (strcmp(a, "check") == 0)
        return check(argc, argv);
    fprintf(stderr, "forkcap: unknown argument '%s'\n", a);
    usage(stderr);
    return 2;
}
