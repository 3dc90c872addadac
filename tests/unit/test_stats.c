/*
 * Unit tests: the drift statistics against values computed once with
 * Debian's scipy 1.10.1 / numpy 1.24 (/usr/bin/python3), printed with repr().
 * Each case names the scipy call that produced the expected value.  The
 * integration tests (tests/integration/t3x-drift-*.sh) compare many more
 * generated data sets end to end.
 */
#include "sluice/stats.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* |got - want| <= rtol * |want| (or both NaN). */
#define ck_close(got, want, rtol)                                                                  \
	do {                                                                                       \
		double g_ = (got), w_ = (want);                                                    \
		if (isnan(w_))                                                                     \
			ck_assert_msg(isnan(g_), "%s = %.17g, expected NaN", #got, g_);            \
		else                                                                               \
			ck_assert_msg(fabs(g_ - w_) <= (rtol)*fabs(w_),                            \
				      "%s = %.17g, expected %.17g (rel %.3g)", #got, g_, w_,       \
				      fabs(g_ - w_) / fabs(w_));                                   \
	} while (0)

static double *arith(size_t n, double step, double off)
{
	double *v = malloc(n * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = (double)i * step + off; /* numpy: np.arange(n) * step + off */
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

START_TEST(sort_and_moments)
{
	/* The radix sort against qsort on a mix of signs, ties, zeros and magnitudes. */
	size_t n = 100003;
	double *v = malloc(n * sizeof(*v)), *w = malloc(n * sizeof(*w));
	unsigned long long s = 88172645463325252ULL;
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		double x = (double)(s % 2000001) - 1000000.0;
		if (i % 5 == 0)
			x = ldexp(x, (int)(s % 200) - 100);
		if (i % 17 == 0)
			x = (double)(i % 3);
		v[i] = w[i] = x;
	}
	v[5] = -0.0;
	w[5] = -0.0;
	stats_sort(v, n);
	qsort(w, n, sizeof(double), cmp_double);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(v[i] == w[i], "sorted[%zu] = %g, qsort says %g", i, v[i], w[i]);
	double small[] = {3, -1, 2, 2, -7.5, 0};
	stats_sort(small, N(small));
	ck_assert(small[0] == -7.5 && small[1] == -1 && small[2] == 0 && small[5] == 3);
	ck_assert_uint_eq(stats_count_distinct(small, N(small)), 5);
	ck_assert_uint_eq(stats_count_distinct(small, 0), 0);
	free(v);
	free(w);

	/* np.std([2,4,4,4,5,5,7,9.]) = 2.0; np.std(np.arange(1000)*0.01) */
	double st[] = {2, 4, 4, 4, 5, 5, 7, 9};
	ck_close(stats_pstd(st, N(st)), 2.0, 1e-15);
	double *ar = arith(1000, 0.01, 0);
	ck_close(stats_pstd(ar, 1000), 2.886749902572095, 1e-14);
	ck_assert(isnan(stats_pstd(ar, 0)));
	ck_close(stats_mean(st, N(st)), 5.0, 0);
	free(ar);
}
END_TEST

START_TEST(quantiles)
{
	/* np.quantile([1,2,3,4,10], [0.1, ..., 0.9]): bit for bit, numpy's lerp */
	double x[] = {1, 2, 3, 4, 10};
	double want[] = {1.4, 1.8, 2.2, 2.6, 3.0, 3.4, 3.8, 5.200000000000001, 7.6000000000000005};
	double e[STATS_PSI_BINS - 1];
	stats_psi_edges(x, N(x), e);
	for (size_t i = 0; i < N(want); i++)
		ck_assert_msg(e[i] == want[i], "edge %zu = %.17g, numpy %.17g", i, e[i], want[i]);
	/* np.quantile([0.1,0.3,0.7], [0.1, 0.25, 0.5, 0.9, 1.0, 0.0]) */
	double y[] = {0.1, 0.3, 0.7};
	double q[] = {0.1, 0.25, 0.5, 0.9, 1.0, 0.0};
	double wq[] = {0.14, 0.2, 0.3, 0.62, 0.7, 0.1};
	for (size_t i = 0; i < N(q); i++)
		ck_assert_msg(stats_quantile_sorted(y, 3, q[i]) == wq[i], "q%g = %.17g", q[i],
			      stats_quantile_sorted(y, 3, q[i]));
	ck_assert(stats_quantile_sorted(y, 1, 0.5) == 0.1);
	ck_assert(isnan(stats_quantile_sorted(y, 0, 0.5)));
}
END_TEST

START_TEST(ks_exact)
{
	/* stats.ks_2samp([0.1,0.5,0.9,1.3,2.0], [0.2,0.3,1.5,2.5,3.0,3.5,4.0]) */
	double a[] = {0.1, 0.5, 0.9, 1.3, 2.0}, b[] = {0.2, 0.3, 1.5, 2.5, 3.0, 3.5, 4.0};
	stats_ks r;
	ck_assert_int_eq(stats_ks_2samp(a, N(a), b, N(b), &r), 0);
	ck_close(r.statistic, 0.5714285714285714, 1e-15);
	ck_close(r.pvalue, 0.23737373737373738, 1e-13);
	ck_assert_int_eq(r.exact, 1);

	/* ties: stats.ks_2samp([1,1,2,2,3], [1,2,2,3,3,3,4]) */
	double ta[] = {1, 1, 2, 2, 3}, tb[] = {1, 2, 2, 3, 3, 3, 4};
	stats_ks_2samp(ta, N(ta), tb, N(tb), &r);
	ck_close(r.statistic, 0.37142857142857144, 1e-15);
	ck_close(r.pvalue, 0.7373737373737375, 1e-13);

	/* equal sizes (the square method): np.arange(20.) vs np.arange(5., 25.) */
	double *sa = arith(20, 1, 0), *sb = arith(20, 1, 5);
	stats_ks_2samp(sa, 20, sb, 20, &r);
	ck_close(r.statistic, 0.25, 0);
	ck_close(r.pvalue, 0.571336004933722, 1e-13);
	free(sa);
	free(sb);

	/* one value each: statistic 1, p-value 1 */
	double one = 1, two = 2;
	stats_ks_2samp(&one, 1, &two, 1, &r);
	ck_close(r.statistic, 1, 0);
	ck_close(r.pvalue, 1, 0);
	/* identical samples: h == 0, p == 1 */
	stats_ks_2samp(a, N(a), a, N(a), &r);
	ck_close(r.statistic, 0, 0);
	ck_close(r.pvalue, 1, 0);
	ck_assert_int_eq(stats_ks_2samp(a, 0, b, N(b), &r), -1);
}
END_TEST

START_TEST(ks_asymptotic)
{
	/* stats.ks_2samp(np.arange(12000)*0.001, np.arange(9000)*0.0012+0.5) */
	double *a = arith(12000, 0.001, 0), *b = arith(9000, 0.0012, 0.5);
	stats_ks r;
	stats_ks_2samp(a, 12000, b, 9000, &r);
	ck_assert_int_eq(r.exact, 0);
	ck_close(r.statistic, 0.05841666666666667, 1e-14);
	ck_close(r.pvalue, 1.0690214431752812e-15, 1e-9);
	free(a);
	free(b);
	/* stats.ks_2samp(np.arange(30000)*0.001, np.arange(20000)*0.0015+0.01) */
	a = arith(30000, 0.001, 0);
	b = arith(20000, 0.0015, 0.01);
	stats_ks_2samp(a, 30000, b, 20000, &r);
	ck_close(r.statistic, 0.0003666666666667373, 1e-10);
	ck_close(r.pvalue, 1.0, 0);
	free(a);
	free(b);
}
END_TEST

START_TEST(kolmogorov_distributions)
{
	/* stats.kstwo.sf(d, n): one case per branch of scipy's _kolmogn */
	struct {
		double d;
		long n;
		double want;
	} k[] = {
		{0.3, 5, 0.664},                        /* Pomeranz */
		{0.05, 200, 0.6802625495871704},        /* Durbin matrix, n > 140 */
		{0.1, 100, 0.2526927570063874},         /* Pomeranz */
		{0.02, 5000, 0.03613941395325637},      /* 2 * smirnov */
		{0.05, 1000, 0.013012074781090332},     /* 2 * smirnov */
		{0.6, 10, 0.0005681672000000003},       /* x >= 0.5 */
		{0.004, 50000, 0.3994316646755731},     /* Durbin matrix */
		{0.2, 30, 0.15796916101547398},         /* Pomeranz */
		{0.0015, 400000, 0.3287803618863431},   /* Pelz-Good */
		{0.003, 400000, 0.0014901727521791166}, /* 2 * smirnov, large n */
	};
	for (size_t i = 0; i < N(k); i++)
		ck_close(stats_kstwo_sf(k[i].d, k[i].n), k[i].want, 1e-11);
	ck_close(stats_kstwo_sf(0.001, 100), 1.0, 0); /* below the support */
	ck_close(stats_kstwo_sf(1.0, 100), 0.0, 0);

	/* special.smirnov(n, d) */
	struct {
		long n;
		double d, want;
	} s[] = {
		{5, 0.3, 0.34282},
		{100, 0.1, 0.1265906584562817},
		{1000, 0.05, 0.006506037390545166},
		{1013, 0.01, 0.8112118242761187},
		{50000, 0.004, 0.20135912950638482},
		{20, 0.9, 1.0003433227539019e-20},
	};
	for (size_t i = 0; i < N(s); i++)
		ck_close(stats_smirnov(s[i].n, s[i].d), s[i].want, 1e-12);
	ck_assert(isnan(stats_smirnov(5, 1.5)));
}
END_TEST

START_TEST(incomplete_gamma_and_chisquare)
{
	/* special.gammainc(a, x), special.gammaincc(a, x) */
	struct {
		double a, x, p, q;
	} g[] = {
		{0.5, 0.625, 0.7364475227170276, 0.26355247728296954},
		{1, 2, 0.8646647167633873, 0.1353352832366127},
		{3.5, 1.2, 0.06556292042202891, 0.9344370795779711},
		{10, 25, 0.9997785233617512, 0.0002214766382487835},
		{100, 90, 0.15822098918643007, 0.84177901081357},
		{1000, 1100, 0.9989406767460701, 0.0010593232539299773},
		{2.5, 0.01, 2.9876015319066003e-06, 0.999997012398468},
	};
	for (size_t i = 0; i < N(g); i++) {
		ck_close(stats_igam(g[i].a, g[i].x), g[i].p, 1e-12);
		ck_close(stats_igamc(g[i].a, g[i].x), g[i].q, 1e-12);
	}
	/* stats.chi2.sf(7.3, 4), stats.chi2.sf(100, 3) */
	ck_close(stats_chi2_sf(7.3, 4), 0.12085874882121235, 1e-12);
	ck_close(stats_chi2_sf(100, 3), 1.5541594313896026e-21, 1e-11);
	ck_assert(isnan(stats_chi2_sf(1, 0)));

	/* stats.chisquare([40,40,20], [50,30,20]) */
	uint64_t ref[] = {50, 30, 20}, cur[] = {40, 40, 20};
	double stat;
	ck_close(stats_chisquare_pvalue(ref, cur, 3, &stat), 0.0694834512228015, 1e-12);
	ck_close(stat, 5.333333333333334, 1e-14);
	/* a category the reference never saw: statistic inf, p 0 */
	uint64_t r2[] = {10, 30, 60, 0}, c2[] = {15, 25, 55, 5};
	ck_close(stats_chisquare_pvalue(r2, c2, 4, &stat), 0.0, 0);
	ck_assert(isinf(stat));
	/* one category: zero degrees of freedom, p NaN (scipy: nan) */
	uint64_t r3[] = {7}, c3[] = {9};
	ck_assert(isnan(stats_chisquare_pvalue(r3, c3, 1, &stat)));
	ck_close(stat, 0, 0);
}
END_TEST

START_TEST(distances)
{
	/* stats.wasserstein_distance([3.4, 3.9, 7.5, 7.8], [4.5, 1.4]) (sorted here) */
	double a[] = {3.4, 3.9, 7.5, 7.8}, b[] = {1.4, 4.5};
	ck_close(stats_wasserstein(a, 4, b, 2), 2.7, 1e-14);
	double c[] = {0, 1, 3}, d[] = {5, 6, 8};
	ck_close(stats_wasserstein(c, 3, d, 3), 5.0, 1e-15);
	ck_close(stats_wasserstein(c, 3, c, 3), 0.0, 0);
	ck_assert(isnan(stats_wasserstein(c, 0, d, 3)));

	/* distance.jensenshannon([10,20,30,0], [15,15,20,5]); ([1,0], [0,1]) */
	uint64_t p[] = {10, 20, 30, 0}, q[] = {15, 15, 20, 5};
	ck_close(stats_jensenshannon(p, q, 4), 0.21188109603011349, 1e-14);
	uint64_t p1[] = {1, 0}, q1[] = {0, 1};
	ck_close(stats_jensenshannon(p1, q1, 2), 0.8325546111576977, 1e-15);
	ck_close(stats_jensenshannon(p, p, 4), 0.0, 0);

	/* PSI of np.arange(1000)*0.01 vs np.arange(800)*0.0125+0.7, decile edges,
	 * proportions of 0 -> 1e-4; current bins [24 80 80 80 80 80 80 80 80 136] */
	double *ra = arith(1000, 0.01, 0), *ca = arith(800, 0.0125, 0.7);
	double e[STATS_PSI_BINS - 1];
	uint64_t cnt[STATS_PSI_BINS];
	uint64_t wc[STATS_PSI_BINS] = {24, 80, 80, 80, 80, 80, 80, 80, 80, 136};
	stats_psi_edges(ra, 1000, e);
	stats_psi_bin_counts(ca, 800, e, cnt);
	for (int i = 0; i < STATS_PSI_BINS; i++)
		ck_assert_uint_eq(cnt[i], wc[i]);
	ck_close(stats_psi_numeric(ra, 1000, ca, 800, 1e-4), 0.12142207387716744, 1e-13);
	free(ra);
	free(ca);
	/* categorical PSI: [50,30,20,0] vs [40,30,10,20] with 1e-4 for empty */
	uint64_t rr[] = {50, 30, 20, 0}, cc[] = {40, 30, 10, 20};
	ck_close(stats_psi_counts(rr, cc, 4, 1e-4), 1.6110494748498778, 1e-14);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sort_and_moments);
	tcase_add_test(tc, quantiles);
	tcase_add_test(tc, ks_exact);
	tcase_add_test(tc, ks_asymptotic);
	tcase_add_test(tc, kolmogorov_distributions);
	tcase_add_test(tc, incomplete_gamma_and_chisquare);
	tcase_add_test(tc, distances);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
