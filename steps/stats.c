/*
 * stats.c — the drift step's statistics, written to give the numbers scipy
 * and numpy give (Debian 12: scipy 1.10, numpy 1.24).  Which function each
 * one matches:
 *
 *   stats_quantile_sorted   numpy.quantile(method='linear'), including its
 *                           two-sided lerp (b - (b-a)(1-t) when t >= 0.5)
 *   stats_ks_2samp          scipy.stats.ks_2samp(method='auto', two-sided):
 *                           exact when max(n1, n2) <= 10000 (Hodges' lattice
 *                           paths: _compute_prob_outside_square for n1 == n2,
 *                           the Viehmann "1 - p" inside recursion of
 *                           _compute_outer_prob_inside_method otherwise),
 *                           else kstwo.sf(D, round(n1 n2 / (n1 + n2)))
 *   stats_kstwo_sf          scipy.stats.kstwo.sf = _ksstats._kolmogn(cdf=False):
 *                           Simard & L'Ecuyer's choice between Ruben-Gambino,
 *                           2 * smirnov, Durbin/Marsaglia-Tsang-Wang matrix
 *                           power, Pomeranz recursion and Pelz-Good series
 *   stats_smirnov           scipy.special.smirnov (cephes kolmogorov.c): the
 *                           Birnbaum-Tingey sum with the same early stop
 *   stats_wasserstein       scipy.stats.wasserstein_distance (p = 1)
 *   stats_jensenshannon     scipy.spatial.distance.jensenshannon (base e)
 *   stats_chisquare_pvalue  scipy.stats.chisquare(cur, ref_share * n_cur)
 *   stats_igam/igamc        scipy.special.gammainc/gammaincc (series and
 *                           Lentz continued fraction, in long double)
 *
 * Invariants: inputs of the two-sample functions are sorted ascending and
 * finite; every merge treats equal values (ties) as numpy's
 * searchsorted(side='right') does; sums that scipy does in float64 pairwise
 * are done here with Neumaier compensation (at least as accurate); the
 * branch conditions (which method, when to stop a series) are evaluated with
 * the same floating-point expressions as scipy so both take the same branch.
 * Our own code; scipy's sources were read to learn the methods.
 */
#include "sluice/stats.h"

#include "sluice/arena.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

/* Neumaier's compensated sum. */
typedef struct ksum {
	double s, c;
} ksum;

static void ksum_add(ksum *k, double x)
{
	double t = k->s + x;
	if (fabs(k->s) >= fabs(x))
		k->c += (k->s - t) + x;
	else
		k->c += (x - t) + k->s;
	k->s = t;
}

static double ksum_value(const ksum *k)
{
	return k->s + k->c;
}

static double clip01(double p)
{
	if (p < 0.0)
		return 0.0;
	if (p > 1.0)
		return 1.0;
	return p; /* NaN stays NaN, as np.clip */
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* ---- sorting ------------------------------------------------------------ */

#define SIGN_BIT     0x8000000000000000ULL
#define RADIX_BITS   11
#define RADIX_SIZE   (1u << RADIX_BITS)
#define RADIX_PASSES 6 /* 6 * 11 >= 64 */

/* Order-preserving map from double to unsigned: flip negatives, set the sign of positives. */
static uint64_t sort_key(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return (u & SIGN_BIT) ? ~u : (u | SIGN_BIT);
}

static double key_double(uint64_t k)
{
	uint64_t u = (k & SIGN_BIT) ? (k & ~SIGN_BIT) : ~k;
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static void insertion_sort(double *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		double x = v[i];
		size_t j = i;
		while (j > 0 && v[j - 1] > x) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

/* The sort keys live in the array itself: a uint64_t view of the doubles. */
typedef uint64_t __attribute__((may_alias)) key_u64;

void stats_sort(double *v, size_t n)
{
	if (n < 64) {
		insertion_sort(v, n);
		return;
	}
	key_u64 *a = (key_u64 *)(void *)v;
	key_u64 *b = xmalloc(n * sizeof(*b));
	key_u64 *src = a, *dst = b;
	size_t(*hist)[RADIX_SIZE] = xcalloc(RADIX_PASSES, sizeof(*hist));
	for (size_t i = 0; i < n; i++) {
		uint64_t k = sort_key(v[i]);
		a[i] = k;
		for (int p = 0; p < RADIX_PASSES; p++)
			hist[p][(k >> (p * RADIX_BITS)) & (RADIX_SIZE - 1)]++;
	}
	for (int p = 0; p < RADIX_PASSES; p++) {
		size_t *h = hist[p];
		/* A digit that is the same for every key needs no pass. */
		if (h[(src[0] >> (p * RADIX_BITS)) & (RADIX_SIZE - 1)] == n)
			continue;
		size_t sum = 0;
		for (size_t d = 0; d < RADIX_SIZE; d++) {
			size_t c = h[d];
			h[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t k = src[i];
			dst[h[(k >> (p * RADIX_BITS)) & (RADIX_SIZE - 1)]++] = k;
		}
		key_u64 *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
	for (size_t i = 0; i < n; i++)
		v[i] = key_double(a[i]);
	free(hist);
	free(b);
}

size_t stats_count_distinct(const double *sorted, size_t n)
{
	size_t d = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || sorted[i] != sorted[i - 1])
			d++;
	return d;
}

/* ---- moments and quantiles ---------------------------------------------- */

double stats_mean(const double *v, size_t n)
{
	if (n == 0)
		return NAN;
	ksum s = {0, 0};
	for (size_t i = 0; i < n; i++)
		ksum_add(&s, v[i]);
	return ksum_value(&s) / (double)n;
}

double stats_pstd(const double *v, size_t n)
{
	if (n == 0)
		return NAN;
	double mean = stats_mean(v, n);
	ksum s = {0, 0};
	for (size_t i = 0; i < n; i++) {
		double d = v[i] - mean;
		ksum_add(&s, d * d);
	}
	return sqrt(ksum_value(&s) / (double)n);
}

double stats_quantile_sorted(const double *s, size_t n, double q)
{
	if (n == 0)
		return NAN;
	double vi = (double)(n - 1) * q; /* numpy: (n - 1) * quantiles */
	if (vi >= (double)(n - 1))
		return s[n - 1];
	if (vi < 0)
		return s[0];
	double prev = floor(vi);
	size_t i = (size_t)prev;
	double t = vi - prev;
	double a = s[i], b = s[i + 1];
	double diff = b - a;
	/* numpy's _lerp: from the nearer end, so that t = 1 gives b exactly. */
	if (t >= 0.5)
		return b - diff * (1 - t);
	return a + diff * t;
}

/* ---- Kolmogorov-Smirnov: one-sided Smirnov ----------------------------- */

#define SMIRNOV_MAX_COMPUTE_N 1000000
#define CEPHES_MINLOG         (-7.08396418532264106224E2) /* log(2^-1022) */

/* One term A_v = C(n,v) * b1^(n-v) * b2^(v-1), with C(n,v) = cman * 2^cexp,
 * b1 = 1 - x - v/n and b2 = x + v/n given as exact-ish long doubles. */
static long double smirnov_term(long double cman, long cexp, long double b1, int64_t e1,
				long double b2, int64_t e2)
{
	if (cman == 0)
		return 0;
	int neg = b1 < 0 && (e1 & 1);
	long double lg = logl(cman) + (long double)cexp * 0.693147180559945309417232121458L;
	if (e1 != 0) {
		if (b1 == 0)
			return 0;
		lg += (long double)e1 * logl(fabsl(b1));
	}
	if (e2 != 0) {
		if (b2 == 0)
			return 0;
		lg += (long double)e2 * logl(b2);
	}
	long double t = expl(lg);
	return neg ? -t : t;
}

double stats_smirnov(int64_t n, double x)
{
	if (!(n > 0 && x >= 0.0 && x <= 1.0))
		return NAN;
	if (n == 1)
		return 1 - x;
	if (x == 0.0)
		return 1.0;
	if (x == 1.0)
		return 0.0;

	/* floor(n x) and its fractional part alpha, from the exact product (fma). */
	double dn = (double)n;
	double nxhi = dn * x;
	double nxlo = fma(dn, x, -nxhi);
	double fl = floor(nxhi);
	long double alpha = ((long double)nxhi - (long double)fl) + (long double)nxlo;
	if (alpha < 0) {
		fl -= 1;
		alpha += 1;
	}
	if (alpha >= 1) {
		fl += 1;
		alpha = 0;
	}
	int64_t nxfl = (int64_t)fl;
	int64_t n1mxfl = n - nxfl - 1;
	int64_t n1mxceil = n - nxfl + (alpha == 0 ? 1 : 0);

	/* x <= 1/n: cdf = x (1 + x)^(n - 1) */
	if (nxfl == 0 || (nxfl == 1 && alpha == 0)) {
		long double t = powl(1.0L + x, (long double)(n - 1));
		return clip01((double)(1.0L - x * t));
	}
	if ((double)(-2 * n) * x * x < CEPHES_MINLOG)
		return 0.0;
	if (nxfl >= n - 1)
		return clip01((double)powl(1.0L - x, (long double)n));
	if (n > SMIRNOV_MAX_COMPUTE_N) {
		/* p ~ exp(-(6nx + 1)^2 / 18n) */
		double logp = -pow(6.0 * dn * x + 1, 2) / 18.0 / dn;
		if (logp < -M_LN2)
			return exp(logp);
		return 1 - (-expm1(logp));
	}

	int64_t nupper = n - n1mxceil + 1;
	int upper = (nupper <= 1 && x < 0.5) || (n >= 10 && nupper <= 3 && x <= 0.5 / sqrt(dn));
	int64_t start = upper ? n : 0, step = upper ? -1 : 1;
	int64_t nterms = upper ? nupper : n1mxfl + 1;
	int64_t vmid = n / 2;

	long double sum;
	if (upper)
		sum = powl(1.0L + x, (long double)(n - 1));
	else
		sum = powl(1.0L - x, (long double)n) / x;
	/* C(n, 1) after the first update, kept as mantissa and exponent. */
	int ce = 0;
	long double cman = frexpl((long double)n, &ce);
	long cexp = ce;
	for (int64_t j = 1; j < nterms; j++) {
		int64_t v = start + j * step;
		/* 1 - x - v/n = (n - v - nxfl - alpha) / n;  x + v/n = (nxfl + v + alpha) / n */
		long double b1 = ((long double)(n - v - nxfl) - alpha) / (long double)n;
		long double b2 = ((long double)(nxfl + v) + alpha) / (long double)n;
		long double a = smirnov_term(cman, cexp, b1, n - v, b2, v - 1);
		double ad = (double)a;
		if (isfinite(ad) && ad != 0)
			sum += a;
		if (ad != 0) {
			if (4.0 * (double)(nterms - j) * fabs(ad) < DBL_EPSILON * (double)sum &&
			    j != nterms - 1)
				break;
		} else if (j > vmid) {
			break;
		}
		/* C(n, j + 1) = C(n, j) (n - j) / (j + 1) */
		cman = cman * ((long double)(n - j) / (long double)(j + 1));
		cman = frexpl(cman, &ce);
		cexp += ce;
	}
	double prob = (double)(x * sum);
	return clip01(upper ? 1 - prob : prob);
}

/* ---- Kolmogorov-Smirnov: two-sided one-sample distribution ------------- */

#define EP128 0x1p128
#define EM128 0x1p-128

static void matmul(const double *a, const double *b, double *out, int m)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < m; j++) {
			double s = 0;
			for (int k = 0; k < m; k++)
				s += a[i * m + k] * b[k * m + j];
			out[i * m + j] = s;
		}
}

/* Pr(D_n <= d): Durbin's matrix, as Marsaglia, Tsang & Wang compute it
 * (scipy _kolmogn_DMTW). */
static double kolmogn_dmtw_cdf(int64_t n, double d)
{
	if (d >= 1.0)
		return 1.0;
	double nd = (double)n * d;
	if (nd <= 0.5)
		return 0.0;
	int k = (int)ceil(nd);
	double h = k - nd;
	int m = 2 * k - 1;
	size_t mm = (size_t)m * (size_t)m;
	double *H = xcalloc(mm, sizeof(double));
	double *P = xcalloc(mm, sizeof(double));
	double *T = xcalloc(mm, sizeof(double));
	double *v = xcalloc((size_t)m, sizeof(double));
	double *w = xcalloc((size_t)m, sizeof(double));

	double fac = 1.0;
	for (int j = 1; j <= m; j++) {
		v[j - 1] = 1.0 - pow(h, j);
		w[j - 1] = fac;
		fac /= j;
		v[j - 1] *= fac;
	}
	double tt = pow(fmax(2 * h - 1.0, 0), m) - 2 * pow(h, m);
	v[m - 1] = (1.0 + tt) * fac;
	for (int i = 1; i < m; i++)
		for (int r = i - 1; r < m; r++)
			H[r * m + i] = w[r - (i - 1)];
	for (int r = 0; r < m; r++)
		H[r * m] = v[r];
	for (int c = 0; c < m; c++)
		H[(m - 1) * m + c] = v[m - 1 - c];

	for (int i = 0; i < m; i++)
		P[i * m + i] = 1.0;
	int64_t nn = n;
	long expnt = 0, hexpnt = 0;
	while (nn > 0) {
		if (nn % 2) {
			matmul(P, H, T, m);
			memcpy(P, T, mm * sizeof(double));
			expnt += hexpnt;
		}
		matmul(H, H, T, m);
		memcpy(H, T, mm * sizeof(double));
		hexpnt *= 2;
		if (fabs(H[(k - 1) * m + (k - 1)]) > EP128) {
			for (size_t i = 0; i < mm; i++)
				H[i] /= EP128;
			hexpnt += 128;
		}
		nn /= 2;
	}
	double p = P[(k - 1) * m + (k - 1)];
	for (int64_t i = 1; i <= n; i++) {
		p = (double)i * p / (double)n;
		if (fabs(p) < EM128) {
			p *= EP128;
			expnt -= 128;
		}
	}
	if (expnt != 0)
		p = ldexp(p, (int)expnt);
	free(H);
	free(P);
	free(T);
	free(v);
	free(w);
	return clip01(p);
}

static void pomeranz_j1j2(int64_t i, int64_t n, int64_t ll, int64_t ceilf, int64_t roundf,
			  int64_t *pj1, int64_t *pj2)
{
	int64_t j1, j2;
	if (i == 0) {
		j1 = -ll - ceilf - 1;
		j2 = ll + ceilf - 1;
	} else {
		int64_t div = (i + 1) / 2, mod = (i + 1) % 2;
		if (mod == 0) {
			if (div == n + 1) {
				j1 = n - ll - ceilf - 1;
				j2 = n + ll + ceilf - 1;
			} else {
				j1 = div - 1 - ll - roundf - 1;
				j2 = div + ll - 1 + ceilf - 1;
			}
		} else {
			j1 = div - 1 - ll - 1;
			j2 = div + ll + roundf - 1;
		}
	}
	*pj1 = j1 + 2 > 0 ? j1 + 2 : 0;
	*pj2 = j2 < n ? j2 : n;
}

/* Pr(D_n <= x) by Pomeranz's recursion (scipy _kolmogn_Pomeranz). */
static double kolmogn_pomeranz_cdf(int64_t n, double x)
{
	double t = (double)n * x;
	int64_t ll = (int64_t)floor(t);
	double f = t - (double)ll;
	double g = fmin(f, 1.0 - f);
	int64_t ceilf = f > 0 ? 1 : 0, roundf = f > 0.5 ? 1 : 0;
	int64_t npwrs = 2 * (ll + 1);
	double *gp = xcalloc((size_t)npwrs, sizeof(double));
	double *tgp = xcalloc((size_t)npwrs, sizeof(double));
	double *omp = xcalloc((size_t)npwrs, sizeof(double));
	double *V0 = xcalloc((size_t)npwrs, sizeof(double));
	double *V1 = xcalloc((size_t)npwrs, sizeof(double));
	gp[0] = tgp[0] = omp[0] = 1.0;
	double gn = g / (double)n, tgn = 2 * g / (double)n, omn = (1 - 2 * g) / (double)n;
	for (int64_t m = 1; m < npwrs; m++) {
		gp[m] = gp[m - 1] * gn / (double)m;
		tgp[m] = tgp[m - 1] * tgn / (double)m;
		omp[m] = omp[m - 1] * omn / (double)m;
	}
	V1[0] = 1;
	int64_t V0s = 0, V1s = 0, j1, j2;
	long expnt = 0;
	double ans = NAN;
	pomeranz_j1j2(0, n, ll, ceilf, roundf, &j1, &j2);
	for (int64_t i = 1; i < 2 * n + 2; i++) {
		int64_t k1 = j1;
		double *tv = V0;
		V0 = V1;
		V1 = tv;
		int64_t ts = V0s;
		V0s = V1s;
		V1s = ts;
		memset(V1, 0, (size_t)npwrs * sizeof(double));
		pomeranz_j1j2(i, n, ll, ceilf, roundf, &j1, &j2);
		const double *pw = (i == 1 || i == 2 * n + 1) ? gp : ((i % 2) ? tgp : omp);
		int64_t ln2 = j2 - k1 + 1;
		if (ln2 <= 0)
			continue;
		/* conv = full convolution of V0[k1 - V0s : +ln2] with pw[:ln2];
		 * V1[0:len] = conv[j1 - k1 : j1 - k1 + len] */
		int64_t off = k1 - V0s;
		int64_t la = npwrs - off < ln2 ? npwrs - off : ln2;
		int64_t lb = npwrs < ln2 ? npwrs : ln2;
		int64_t cstart = j1 - k1, clen = j2 - j1 + 1;
		if (off < 0 || la <= 0 || clen > npwrs)
			goto out; /* outside what the algorithm visits; never expected */
		double vmax = 0;
		for (int64_t c = 0; c < clen; c++) {
			int64_t kk = cstart + c;
			double s = 0;
			int64_t lo = kk - (lb - 1) > 0 ? kk - (lb - 1) : 0;
			int64_t hi = kk < la - 1 ? kk : la - 1;
			for (int64_t q = lo; q <= hi; q++)
				s += V0[off + q] * pw[kk - q];
			V1[c] = s;
			if (s > vmax)
				vmax = s;
		}
		if (vmax > 0 && vmax < EM128) {
			for (int64_t c = 0; c < npwrs; c++)
				V1[c] *= EP128;
			expnt -= 128;
		}
		V1s = V0s + j1 - k1;
	}
	if (n - V1s < 0 || n - V1s >= npwrs)
		goto out;
	ans = V1[n - V1s];
	for (int64_t m = 1; m <= n; m++) {
		if (fabs(ans) > EP128) {
			ans *= EM128;
			expnt += 128;
		}
		ans *= (double)m;
	}
	if (expnt != 0)
		ans = ldexp(ans, (int)expnt);
out:
	free(gp);
	free(tgp);
	free(omp);
	free(V0);
	free(V1);
	return clip01(ans);
}

/* Pelz-Good approximation of Pr(D_n <= x) (scipy _kolmogn_PelzGood); unclipped. */
static double kolmogn_pelzgood_cdf(int64_t n, double x)
{
	if (x <= 0.0)
		return 0.0;
	if (x >= 1.0)
		return 1.0;
	const double pi2 = M_PI * M_PI, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
	const double sqrt2pi = sqrt(2 * M_PI);
	double z = sqrt((double)n) * x;
	double z2 = z * z, z3 = z * z * z, z4 = z2 * z2, z6 = pow(z, 6);
	double qlog = -pi2 / 8 / z2;
	if (qlog < -708)
		return 0.0;
	double q = exp(qlog);
	double k1a = -z2, k1b = pi2 / 4;
	double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4;
	double k2c = pi4 * (1 - 2 * z2) / 16;
	double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
	double k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * pow(z, 8);
	double K[4] = {0, 0, 0, 0};
	int64_t maxk = (int64_t)ceil(16 * z / M_PI);
	for (int64_t k = maxk; k > 0; k--) {
		double m = (double)(2 * k - 1);
		double m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
		double qp = pow(q, (double)(8 * k));
		double c[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
			       k3a + k3b * m2 + k3c * m4 + k3d * m6};
		for (int i = 0; i < 4; i++)
			K[i] = K[i] * qp + c[i];
	}
	double div[4] = {z, 6 * z4, 72 * pow(z, 7), 6480 * pow(z, 10)};
	for (int i = 0; i < 4; i++)
		K[i] = K[i] * q * sqrt2pi / div[i];
	double q2 = exp(-pi2 / 2 / z2);
	double k2x = 0, k3x = 0, s3z = sqrt(3.0) * z;
	for (int64_t k = maxk; k > 0; k--) {
		double kk = (double)k, ksq = kk * kk;
		double qp = pow(q2, ksq);
		k2x += ksq * qp;
		k3x += (s3z + M_PI * kk) * (s3z - M_PI * kk) * ksq * qp;
	}
	K[2] += k2x * (pi2 * sqrt2pi / (-36 * z3));
	K[3] += k3x * (pi2 * sqrt2pi / (216 * z6));
	double sum = 0;
	for (int i = 0; i < 4; i++)
		sum += K[i] / pow((double)n, i / 2.0);
	return sum;
}

/* log(n! / n^n) by Stirling's series (scipy _log_nfactorial_div_n_pow_n). */
static double log_nfact_div_npown(double n)
{
	static const double c[] = {-2.955065359477124183e-2,  6.4102564102564102564e-3,
				   -1.9175269175269175269e-3, 8.4175084175084175084e-4,
				   -5.952380952380952381e-4,  7.9365079365079365079e-4,
				   -2.7777777777777777778e-3, 8.3333333333333333333e-2};
	double rn = 1.0 / n, x = rn / n, p = 0;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		p = p * x + c[i];
	return log(n) / 2 - n + log(2 * M_PI) / 2 + rn * p;
}

double stats_kstwo_sf(double x, int64_t n)
{
	if (n <= 0 || isnan(x))
		return NAN;
	double dn = (double)n;
	/* rv_continuous.sf: 1 at or below the support's start 0.5/n, 0 from 1 on */
	if (x <= 0.5 / dn)
		return 1.0;
	if (x >= 1.0)
		return 0.0;
	double t = dn * x;
	if (t <= 1.0) { /* Ruben-Gambino: 1/2n <= x <= 1/n */
		if (t <= 0.5)
			return 1.0;
		double prob;
		if (n <= 140) {
			prob = 1.0;
			for (int64_t i = 1; i <= n; i++)
				prob *= (double)i * (1.0 / dn) * (2 * t - 1);
		} else {
			prob = exp(log_nfact_div_npown(dn) + dn * log(2 * t - 1));
		}
		return clip01(1.0 - prob);
	}
	if (t >= dn - 1) /* Ruben-Gambino */
		return clip01(2 * pow(1.0 - x, dn));
	if (x >= 0.5)
		return clip01(2 * stats_smirnov(n, x));
	double nxsq = t * x;
	if (n <= 140) {
		if (nxsq <= 0.754693)
			return clip01(1.0 - kolmogn_dmtw_cdf(n, x));
		if (nxsq <= 4)
			return clip01(1.0 - kolmogn_pomeranz_cdf(n, x));
		return clip01(2 * stats_smirnov(n, x));
	}
	if (nxsq >= 370.0)
		return 0.0;
	if (nxsq >= 2.2)
		return clip01(2 * stats_smirnov(n, x));
	double cdf;
	if (nxsq >= 18.0)
		cdf = 1.0;
	else if (n <= 100000 && dn * pow(x, 1.5) <= 1.4)
		cdf = kolmogn_dmtw_cdf(n, x);
	else
		cdf = kolmogn_pelzgood_cdf(n, x);
	return clip01(1.0 - cdf);
}

/* ---- Kolmogorov-Smirnov: two samples ------------------------------------ */

/* Pr(D_{n,n} >= h/n) (scipy _compute_prob_outside_square), Horner-like to
 * avoid the cancellation of the alternating binomial sum. */
static double prob_outside_square(int64_t n, int64_t h)
{
	double P = 0.0;
	int64_t k = (int64_t)floor((double)n / (double)h);
	while (k >= 0) {
		double p1 = 1.0;
		for (int64_t j = 0; j < h; j++)
			p1 = (double)(n - k * h - j) * p1 / (double)(n + k * h + j + 1);
		P = p1 * (1.0 - P);
		k--;
	}
	return 2 * P;
}

/* Share of lattice paths from (0,0) to (m,n) that leave the band
 * |x/m - y/n| < h/lcm (scipy _compute_outer_prob_inside_method, Viehmann's
 * recursion for 1 - p).  NaN when the window bookkeeping goes out of range.
 * The division by i + j is a multiplication by its reciprocal (a table):
 * twice as fast, and within a few ulps of scipy's. */
static double outer_prob_inside(int64_t m, int64_t n, int64_t g, int64_t h)
{
	if (m < n) {
		int64_t t = m;
		m = n;
		n = t;
	}
	int64_t mg = m / g, ng = n / g;
	int64_t minj = 0, maxj = (int64_t)ceil((double)h / (double)mg);
	if (maxj > n + 1)
		maxj = n + 1;
	int64_t curlen = maxj - minj;
	int64_t lenA = 2 * maxj + 2 < n + 1 ? 2 * maxj + 2 : n + 1;
	double *A = xmalloc((size_t)lenA * sizeof(double));
	double *inv = xmalloc((size_t)(m + n + 1) * sizeof(double));
	for (int64_t k = 1; k <= m + n; k++)
		inv[k] = 1.0 / (double)k;
	double result = NAN;
	for (int64_t j = 0; j < lenA; j++)
		A[j] = j < maxj ? 0.0 : 1.0;
	for (int64_t i = 1; i <= m; i++) {
		int64_t lastminj = minj, lastlen = curlen;
		minj = (int64_t)floor((double)(ng * i - h) / (double)mg) + 1;
		if (minj < 0)
			minj = 0;
		if (minj > n)
			minj = n;
		maxj = (int64_t)ceil((double)(ng * i + h) / (double)mg);
		if (maxj > n + 1)
			maxj = n + 1;
		if (maxj <= minj) {
			result = 1.0;
			goto out;
		}
		if (maxj - minj > lenA || maxj - lastminj > lenA)
			goto out;
		double val = minj == 0 ? 0.0 : 1.0;
		double di = (double)i;
		for (int64_t jj = 0; jj < maxj - minj; jj++) {
			int64_t j = jj + minj;
			val = (A[jj + minj - lastminj] * di + val * (double)j) * inv[i + j];
			A[jj] = val;
		}
		curlen = maxj - minj;
		for (int64_t j = curlen; j < curlen + (lastlen - curlen) && j < lenA; j++)
			A[j] = 1;
	}
	result = A[maxj - minj - 1];
out:
	free(A);
	free(inv);
	return result;
}

int stats_ks_2samp(const double *a, size_t na, const double *b, size_t nb, stats_ks *out)
{
	if (na == 0 || nb == 0)
		return -1;
	/* cddiffs at every observation: F1(x) - F2(x) with right-continuous ECDFs */
	double dmin = 0, dmax = -INFINITY;
	size_t i = 0, j = 0;
	double fa = (double)na, fb = (double)nb;
	while (i < na || j < nb) {
		double x = (j >= nb || (i < na && a[i] <= b[j])) ? a[i] : b[j];
		while (i < na && a[i] == x)
			i++;
		while (j < nb && b[j] == x)
			j++;
		double d = (double)i / fa - (double)j / fb;
		if (d > dmax)
			dmax = d;
		if (d < dmin)
			dmin = d;
	}
	double mins = clip01(-dmin);
	double d = mins > dmax ? mins : dmax;

	uint64_t n1 = na, n2 = nb;
	uint64_t g = gcd_u64(n1, n2);
	double p = NAN;
	int exact = 0;
	if ((n1 > n2 ? n1 : n2) <= 10000) {
		uint64_t lcm = (n1 / g) * n2;
		double h = nearbyint(d * (double)lcm);
		d = h / (double)lcm;
		if (h == 0)
			p = 1.0;
		else if (n1 == n2)
			p = prob_outside_square((int64_t)n1, (int64_t)h);
		else
			p = outer_prob_inside((int64_t)n1, (int64_t)n2, (int64_t)g, (int64_t)h);
		exact = p >= 0 && p <= 1;
	}
	if (!exact) {
		double m = fa > fb ? fa : fb, n = fa > fb ? fb : fa;
		double en = m * n / (m + n);
		p = stats_kstwo_sf(d, (int64_t)nearbyint(en));
	}
	out->statistic = d;
	out->pvalue = clip01(p);
	out->exact = exact;
	return 0;
}

/* ---- distances ---------------------------------------------------------- */

double stats_wasserstein(const double *a, size_t na, const double *b, size_t nb)
{
	if (na == 0 || nb == 0)
		return NAN;
	/* integral of |U(x) - V(x)| dx, U and V right-continuous ECDFs, walked
	 * over the merged distinct values */
	ksum s = {0, 0};
	size_t i = 0, j = 0;
	double fa = (double)na, fb = (double)nb;
	double x = a[0] < b[0] ? a[0] : b[0];
	for (;;) {
		while (i < na && a[i] == x)
			i++;
		while (j < nb && b[j] == x)
			j++;
		if (i >= na && j >= nb)
			break;
		double next = (j >= nb || (i < na && a[i] <= b[j])) ? a[i] : b[j];
		ksum_add(&s, fabs((double)i / fa - (double)j / fb) * (next - x));
		x = next;
	}
	return ksum_value(&s);
}

void stats_psi_edges(const double *sorted_ref, size_t n, double edges[STATS_PSI_BINS - 1])
{
	for (int k = 1; k < STATS_PSI_BINS; k++)
		edges[k - 1] = stats_quantile_sorted(sorted_ref, n, k / (double)STATS_PSI_BINS);
}

/* Number of values <= e in a sorted array. */
static size_t upper_bound(const double *s, size_t n, double e)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s[mid] <= e)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void stats_psi_bin_counts(const double *sorted, size_t n, const double edges[STATS_PSI_BINS - 1],
			  uint64_t counts[STATS_PSI_BINS])
{
	size_t prev = 0;
	for (int k = 0; k < STATS_PSI_BINS - 1; k++) {
		size_t ub = upper_bound(sorted, n, edges[k]);
		if (ub < prev) /* edges are non-decreasing; guard anyway */
			ub = prev;
		counts[k] = ub - prev;
		prev = ub;
	}
	counts[STATS_PSI_BINS - 1] = n - prev;
}

double stats_psi_counts(const uint64_t *ref, const uint64_t *cur, size_t k, double eps)
{
	uint64_t nr = 0, nc = 0;
	for (size_t i = 0; i < k; i++) {
		nr += ref[i];
		nc += cur[i];
	}
	if (nr == 0 || nc == 0)
		return NAN;
	ksum s = {0, 0};
	for (size_t i = 0; i < k; i++) {
		double r = (double)ref[i] / (double)nr, c = (double)cur[i] / (double)nc;
		if (r == 0)
			r = eps;
		if (c == 0)
			c = eps;
		ksum_add(&s, (c - r) * log(c / r));
	}
	return ksum_value(&s);
}

double stats_psi_numeric(const double *ref, size_t nr, const double *cur, size_t nc, double eps)
{
	if (nr == 0 || nc == 0)
		return NAN;
	double edges[STATS_PSI_BINS - 1];
	uint64_t rc[STATS_PSI_BINS], cc[STATS_PSI_BINS];
	stats_psi_edges(ref, nr, edges);
	stats_psi_bin_counts(ref, nr, edges, rc);
	stats_psi_bin_counts(cur, nc, edges, cc);
	return stats_psi_counts(rc, cc, STATS_PSI_BINS, eps);
}

/* scipy.special.rel_entr */
static double rel_entr(double x, double y)
{
	if (x > 0 && y > 0)
		return x * log(x / y);
	if (x == 0 && y >= 0)
		return 0;
	return INFINITY;
}

double stats_jensenshannon(const uint64_t *p, const uint64_t *q, size_t k)
{
	uint64_t sp = 0, sq = 0;
	for (size_t i = 0; i < k; i++) {
		sp += p[i];
		sq += q[i];
	}
	if (sp == 0 || sq == 0)
		return NAN;
	ksum left = {0, 0}, right = {0, 0};
	for (size_t i = 0; i < k; i++) {
		double pi = (double)p[i] / (double)sp, qi = (double)q[i] / (double)sq;
		double m = (pi + qi) / 2.0;
		ksum_add(&left, rel_entr(pi, m));
		ksum_add(&right, rel_entr(qi, m));
	}
	double js = ksum_value(&left) + ksum_value(&right);
	/* Mathematically >= 0; a rounding residue below 0 would make scipy's sqrt NaN. */
	if (js < 0)
		js = 0;
	return sqrt(js / 2.0);
}

/* ---- incomplete gamma and chi-square ------------------------------------ */

#define IGAM_EPS     1e-21L
#define IGAM_MAXITER 100000000L

/* log(x^a e^-x / Gamma(a)), in long double so the large terms cancel exactly enough. */
static long double igam_logfac(long double a, long double x)
{
	int sign;
	return a * logl(x) - x - lgammal_r(a, &sign);
}

/* P(a, x) by its power series; for x < a + 1. */
static long double igam_series(long double a, long double x)
{
	long double term = 1.0L / a, sum = term;
	for (long k = 1; k < IGAM_MAXITER; k++) {
		term *= x / (a + (long double)k);
		sum += term;
		if (term < sum * IGAM_EPS)
			break;
	}
	return sum * expl(igam_logfac(a, x));
}

/* Q(a, x) by its continued fraction (modified Lentz); for x >= a + 1. */
static long double igamc_fraction(long double a, long double x)
{
	const long double tiny = 1e-4000L;
	long double b = x + 1.0L - a, c = 1.0L / tiny, d = 1.0L / b, h = d;
	for (long i = 1; i < IGAM_MAXITER; i++) {
		long double an = -(long double)i * ((long double)i - a);
		b += 2.0L;
		d = an * d + b;
		if (fabsl(d) < tiny)
			d = tiny;
		c = b + an / c;
		if (fabsl(c) < tiny)
			c = tiny;
		d = 1.0L / d;
		long double del = d * c;
		h *= del;
		if (fabsl(del - 1.0L) < IGAM_EPS)
			break;
	}
	return h * expl(igam_logfac(a, x));
}

double stats_igam(double a, double x)
{
	if (isnan(a) || isnan(x) || a <= 0 || x < 0)
		return NAN;
	if (x == 0)
		return 0;
	if (isinf(x))
		return 1;
	if (x < a + 1)
		return (double)igam_series(a, x);
	return (double)(1.0L - igamc_fraction(a, x));
}

double stats_igamc(double a, double x)
{
	if (isnan(a) || isnan(x) || a <= 0 || x < 0)
		return NAN;
	if (x == 0)
		return 1;
	if (isinf(x))
		return 0;
	if (x < a + 1)
		return (double)(1.0L - igam_series(a, x));
	return (double)igamc_fraction(a, x);
}

double stats_chi2_sf(double x, double df)
{
	if (isnan(x) || !(df > 0))
		return NAN;
	if (x <= 0)
		return 1.0;
	return stats_igamc(df / 2.0, x / 2.0);
}

double stats_chisquare_pvalue(const uint64_t *ref, const uint64_t *cur, size_t k, double *stat)
{
	uint64_t nr = 0, nc = 0;
	for (size_t i = 0; i < k; i++) {
		nr += ref[i];
		nc += cur[i];
	}
	if (stat)
		*stat = NAN;
	if (nr == 0 || nc == 0)
		return NAN;
	ksum s = {0, 0};
	int infinite = 0;
	for (size_t i = 0; i < k; i++) {
		double e = (double)ref[i] / (double)nr * (double)nc;
		double o = (double)cur[i];
		if (e == 0) {
			if (o != 0)
				infinite = 1; /* (o - 0)^2 / 0 */
			continue;
		}
		ksum_add(&s, (o - e) * (o - e) / e);
	}
	double chi2 = infinite ? INFINITY : ksum_value(&s);
	if (stat)
		*stat = chi2;
	if (k < 2)
		return NAN;
	if (isinf(chi2))
		return 0.0;
	return stats_chi2_sf(chi2, (double)(k - 1));
}
