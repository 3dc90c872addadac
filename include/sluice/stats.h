/*
 * stats.h — the statistics of the drift step (docs/steps/drift.md):
 * pure numeric functions on arrays of doubles and category counts, each
 * matching a scipy/numpy function to well within 1e-6 relative (the tests
 * compare against Debian's scipy 1.10).
 *
 * Conventions:
 * - Samples are arrays of finite doubles; the two-sample functions take them
 *   SORTED ascending (stats_sort() sorts in place), so the caller sorts each
 *   column once and every statistic is a linear merge.
 * - Nothing fails: an undefined result (empty sample, zero degrees of
 *   freedom) is NaN, as scipy returns it.  Scratch memory (the sort's second
 *   buffer, the exact KS recursions) comes from xmalloc and is freed before
 *   returning; no state survives a call, so threads may call freely.
 * - Category statistics take parallel arrays of counts over the union of the
 *   categories seen on either side (a category missing on one side has count 0).
 */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include <stddef.h>
#include <stdint.h>

/* ---- sorting and moments ------------------------------------------------ */

/* Sort n finite doubles ascending in place (LSD radix sort; -0.0 before +0.0). */
void stats_sort(double *v, size_t n);
/* Number of distinct values of a sorted array. */
size_t stats_count_distinct(const double *sorted, size_t n);
/* Arithmetic mean (compensated sum); NaN when n == 0.  numpy.mean. */
double stats_mean(const double *v, size_t n);
/* Population standard deviation (ddof = 0, two-pass, compensated); numpy.std. */
double stats_pstd(const double *v, size_t n);
/* The q-quantile (0 <= q <= 1) of a sorted array with linear interpolation,
 * exactly as numpy.quantile(method='linear') computes it; NaN when n == 0. */
double stats_quantile_sorted(const double *sorted, size_t n, double q);

/* ---- Kolmogorov-Smirnov ------------------------------------------------- */

typedef struct stats_ks {
	double statistic; /* D = sup |F1 - F2| */
	double pvalue;    /* two-sided */
	int exact;        /* 1: exact distribution, 0: asymptotic (kstwo) */
} stats_ks;

/* Two-sample KS test of sorted a[0..na) and b[0..nb), both non-empty, as
 * scipy.stats.ks_2samp(a, b, alternative='two-sided', method='auto'): exact
 * when max(na, nb) <= 10000 (scipy's MAX_AUTO_N), else kstwo.sf(D, round(na*nb/(na+nb))).
 * Returns 0, or -1 when a sample is empty. */
int stats_ks_2samp(const double *a, size_t na, const double *b, size_t nb, stats_ks *out);
/* Survival function of the one-sample two-sided KS statistic D_n:
 * scipy.stats.kstwo.sf(d, n) (Simard & L'Ecuyer's choice of methods). */
double stats_kstwo_sf(double d, int64_t n);
/* One-sided Smirnov survival function Pr(D+_n >= d): scipy.special.smirnov. */
double stats_smirnov(int64_t n, double d);

/* ---- distances ---------------------------------------------------------- */

/* First Wasserstein distance between the empirical distributions of sorted
 * a and b: scipy.stats.wasserstein_distance(a, b).  NaN when one is empty. */
double stats_wasserstein(const double *a, size_t na, const double *b, size_t nb);

/* PSI edges: the reference's 10%, 20%, ..., 90% quantiles (numpy linear). */
#define STATS_PSI_BINS 10
void stats_psi_edges(const double *sorted_ref, size_t n, double edges[STATS_PSI_BINS - 1]);
/* Counts of sorted x in the bins (-inf,e1], (e1,e2], ..., (e9,inf). */
void stats_psi_bin_counts(const double *sorted, size_t n, const double edges[STATS_PSI_BINS - 1],
			  uint64_t counts[STATS_PSI_BINS]);
/* Population stability index over k bins given as counts: proportions of 0
 * are replaced by eps (1e-4 in the drift step); sum of (c - r) * ln(c / r).
 * NaN when a side has no observations. */
double stats_psi_counts(const uint64_t *ref, const uint64_t *cur, size_t k, double eps);
/* PSI of two sorted numeric samples with the reference's decile edges. */
double stats_psi_numeric(const double *ref, size_t nr, const double *cur, size_t nc, double eps);

/* Jensen-Shannon distance (natural log) between two count vectors, each
 * normalised to a distribution: scipy.spatial.distance.jensenshannon(p, q). */
double stats_jensenshannon(const uint64_t *p, const uint64_t *q, size_t k);

/* ---- chi-square ----------------------------------------------------------- */

/* Goodness of fit of the current counts to the reference's proportions:
 * expected_i = ref_i / sum(ref) * sum(cur); statistic and p-value of
 * scipy.stats.chisquare(cur, expected) with k - 1 degrees of freedom
 * (p = NaN when k < 2 or a side is empty; inf statistic, p = 0, when a
 * category has expected 0 but was observed).  *stat may be NULL. */
double stats_chisquare_pvalue(const uint64_t *ref, const uint64_t *cur, size_t k, double *stat);
/* Regularized incomplete gamma functions P(a, x) and Q(a, x) = 1 - P(a, x)
 * (scipy.special.gammainc / gammaincc), relative accuracy ~1e-13. */
double stats_igam(double a, double x);
double stats_igamc(double a, double x);
/* Chi-square survival function: scipy.stats.chi2.sf(x, df) = Q(df / 2, x / 2). */
double stats_chi2_sf(double x, double df);

#endif
