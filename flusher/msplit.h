/* msplit.h — halves of an encoded metrics payload, for a 413 from the
 * intake: a series body (series_json.h) is cut between two series, a
 * SketchPayload (sketch_pb.h) between two sketches; each half is a whole
 * payload of the same kind (a sketch payload's metadata goes in both). */
#ifndef FORKCAP_MSPLIT_H
#define FORKCAP_MSPLIT_H
#include <stddef.h>

enum msplit_kind { MSPLIT_SERIES, MSPLIT_SKETCHES };

/* Split body[0..len) into *a (the first ceil(n/2) entries) and *b (the
 * rest), both from malloc (the caller frees). Returns 0; 1 when the body
 * holds fewer than two entries (nothing to split: *a, *b untouched);
 * -1 when it is not of the kind's shape, or out of memory. *entries, when
 * not NULL, gets the number of entries found (also on 1). */
int msplit_halves(enum msplit_kind k, const char *body, size_t len, char **a, size_t *alen,
                  char **b, size_t *blen, size_t *entries);
#endif
