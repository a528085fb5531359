/* proctitle.h — name a forked child in ps, as nginx names its workers:
 * overwrite the argv strings in place and set the thread name. */
#ifndef FORKCAP_PROCTITLE_H
#define FORKCAP_PROCTITLE_H

/* Remember where argv lives; call once in main before anything edits it. */
void proctitle_init(int argc, char **argv);
/* Show title in ps/cmdline (cut to the argv area) and as the comm name
 * (cut to 15 bytes by the kernel). */
void proctitle_set(const char *title);

#endif
