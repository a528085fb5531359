/* test_mpwalk.c — common/mpwalk.c, the bounded walk every msgpack input
 * goes through before msgpack-c: each limit on its own, and agreement with
 * msgpack-c on what one value is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "mpwalk.h"

static const struct mpw_limits wide = {32, 1u << 20, 1u << 24};

static int check(const void *p, size_t n, const struct mpw_limits *lim)
{
    char err[128];
    int rc = mpw_check(p, n, lim, err, sizeof err);
    if (rc != MPW_OK)
        assert_true(err[0] != '\0'); /* a refusal always says why */
    return rc;
}

static void test_every_type_walks(void **st)
{
    (void)st;
    /* one of each encoding, packed by msgpack-c */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 20);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    msgpack_pack_uint8(&pk, 200);
    msgpack_pack_uint16(&pk, 60000);
    msgpack_pack_uint32(&pk, 4000000000u);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_int8(&pk, -100);
    msgpack_pack_int16(&pk, -30000);
    msgpack_pack_int32(&pk, -2000000000);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_double(&pk, 2.5);
    char big[70000];
    memset(big, 'x', sizeof big);
    msgpack_pack_str_with_body(&pk, big, 40);
    msgpack_pack_str_with_body(&pk, big, 300);
    msgpack_pack_str_with_body(&pk, big, sizeof big);
    msgpack_pack_bin_with_body(&pk, big, 10);
    msgpack_pack_ext_with_body(&pk, big, 4, 7);
    msgpack_pack_ext_with_body(&pk, big, 5, 7);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_array(&pk, 16);
    for (int i = 0; i < 16; i++)
        msgpack_pack_fix_uint8(&pk, (uint8_t)i);
    assert_int_equal(check(sb.data, sb.size, &wide), MPW_OK);
    /* mpw_walk says where the value ends; msgpack-c agrees */
    char *two = malloc(sb.size + 1);
    memcpy(two, sb.data, sb.size);
    two[sb.size] = (char)0xc0;
    size_t used = 0;
    assert_int_equal(mpw_walk((const uint8_t *)two, sb.size + 1, &wide, &used, NULL, 0), MPW_OK);
    assert_int_equal(used, sb.size);
    assert_int_equal(check(two, sb.size + 1, &wide), MPW_TRAILING);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, two, sb.size + 1, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, used);
    msgpack_unpacked_destroy(&u);
    /* every strict prefix is refused: cut short, or a count it cannot hold */
    for (size_t k = 0; k < sb.size; k += 1 + k / 64) {
        int rc = check(sb.data, k, &wide);
        assert_true(rc == MPW_TRUNCATED || rc == MPW_COUNT);
    }
    free(two);
    msgpack_sbuffer_destroy(&sb);
}

static void test_limits(void **st)
{
    (void)st;
    /* counts larger than the bytes left, in 5 or 6 bytes */
    const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    const uint8_t map16[] = {0xde, 0x00, 0x02, 0xc0, 0xc0, 0xc0}; /* 2 pairs need 4 bytes */
    const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xf0, 'a'};
    const uint8_t ext8[] = {0xc7, 0xff, 0x01, 0x00};
    assert_int_equal(check(arr32, sizeof arr32, &wide), MPW_COUNT);
    assert_int_equal(check(map16, sizeof map16, &wide), MPW_COUNT);
    assert_int_equal(check(str32, sizeof str32, &wide), MPW_TRUNCATED);
    assert_int_equal(check(ext8, sizeof ext8, &wide), MPW_TRUNCATED);
    /* depth: a container at level max_depth is refused, one above is fine */
    uint8_t deep[10];
    memset(deep, 0x91, sizeof deep);
    deep[9] = 0xc0; /* 9 nested arrays, innermost at level 8 */
    struct mpw_limits lim = {9, 100, 100};
    assert_int_equal(check(deep, sizeof deep, &lim), MPW_OK);
    lim.max_depth = 8;
    assert_int_equal(check(deep, sizeof deep, &lim), MPW_TOO_DEEP);
    lim.max_depth = 0; /* scalars only */
    assert_int_equal(check(deep + 9, 1, &lim), MPW_OK);
    assert_int_equal(check(deep, sizeof deep, &lim), MPW_TOO_DEEP);
    /* total values: [nil x 5] is 6 values */
    const uint8_t five[] = {0x95, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0};
    lim = (struct mpw_limits){4, 6, 100};
    assert_int_equal(check(five, sizeof five, &lim), MPW_OK);
    lim.max_elems = 5;
    assert_int_equal(check(five, sizeof five, &lim), MPW_TOO_MANY);
    /* a map's pair counts two */
    const uint8_t m2[] = {0x82, 0xc0, 0xc0, 0xc0, 0xc0};
    lim.max_elems = 4;
    assert_int_equal(check(m2, sizeof m2, &lim), MPW_TOO_MANY);
    lim.max_elems = 5;
    assert_int_equal(check(m2, sizeof m2, &lim), MPW_OK);
    /* bytes */
    lim.max_bytes = 4;
    assert_int_equal(check(m2, sizeof m2, &lim), MPW_TOO_BIG);
    /* the byte msgpack never uses */
    const uint8_t c1[] = {0x91, 0xc1};
    assert_int_equal(check(c1, sizeof c1, &wide), MPW_BAD_BYTE);
    /* empty input */
    assert_int_equal(check("", 0, &wide), MPW_TRUNCATED);
    /* a huge max_depth is clamped, not trusted */
    lim = (struct mpw_limits){UINT32_MAX, 1u << 20, 1u << 20};
    uint8_t *tower = malloc(4096);
    memset(tower, 0x91, 4095);
    tower[4095] = 0xc0;
    assert_int_equal(check(tower, 4096, &lim), MPW_TOO_DEEP);
    free(tower);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_walks),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
