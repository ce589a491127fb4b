/*
 * tests/cli/test_progress.c: the progress line's text (progress_format,
 * progress_group), linked directly; drawing on a real terminal is tested
 * in test_tty.c.
 */
#define _GNU_SOURCE
#include "progress.h"

#include <criterion/criterion.h>

#include <string.h>

Test(progress, groups_thousands_with_commas)
{
	char buf[32];
	cr_assert_str_eq(progress_group(buf, 0), "0");
	cr_assert_str_eq(progress_group(buf, 999), "999");
	cr_assert_str_eq(progress_group(buf, 1000), "1,000");
	cr_assert_str_eq(progress_group(buf, 1234567), "1,234,567");
	cr_assert_str_eq(progress_group(buf, UINT64_MAX),
			 "18,446,744,073,709,551,615");
}

Test(progress, unknown_total_shows_items_and_rate_only)
{
	char buf[128];
	progress_format(buf, sizeof buf, "load", "keys", 523104, 0, 0, 2.0);
	cr_assert_str_eq(buf, "load: 523,104 keys  261.6k keys/s");
}

Test(progress, known_total_adds_percent_and_eta)
{
	char buf[128];
	/* Half the work in 30 s: 30 s to go. */
	progress_format(buf, sizeof buf, "dump", "keys", 2000000, 50, 100,
			30.0);
	cr_assert_str_eq(buf, "dump: 2,000,000 keys  66.7k keys/s  50%  "
			      "ETA 0:30");
	progress_format(buf, sizeof buf, "load", "keys", 5, 1, 4, 600.0);
	cr_assert_str_eq(buf, "load: 5 keys  0 keys/s  25%  ETA 30:00");
}

Test(progress, rates_use_k_and_m)
{
	char buf[128];
	progress_format(buf, sizeof buf, "x", "k", 2500000, 0, 0, 1.0);
	cr_assert_str_eq(buf, "x: 2,500,000 k  2.50M k/s");
	progress_format(buf, sizeof buf, "x", "k", 950, 0, 0, 1.0);
	cr_assert_str_eq(buf, "x: 950 k  950 k/s");
}

Test(progress, short_buffer_is_cut_and_terminated)
{
	char buf[8];
	size_t n =
		progress_format(buf, sizeof buf, "load", "keys", 1, 1, 2, 1.0);
	cr_assert_eq(n, 7);
	cr_assert_eq(strlen(buf), 7);
}

Test(progress, counting_without_drawing_needs_no_thread)
{
	struct progress p;
	cr_assert_eq(progress_start(&p, "t", "u", 10, 0), 0);
	progress_add(&p, 3, 4);
	progress_add(&p, 1, 1);
	cr_assert_eq(atomic_load(&p.items), 4);
	cr_assert_eq(atomic_load(&p.work), 5);
	cr_assert_geq(progress_stop(&p), 0.0);
}
