/*
 * cleanup.h — scope-bound ownership (crun's utils.h idea): a variable
 * declared with one of these is freed or closed when it goes out of scope,
 * on every return path; steal hands the ownership out.
 *
 *     sl_autofree char *path = xstrdup(...);
 *     sl_autoclose int fd = open(path, ...);
 *     if (fd < 0)
 *             return sl_error_errno(err, errno, "open %s", path);  // both released
 *     out->fd = sl_steal_fd(&fd);                                  // now the caller's
 */
#ifndef SLUICE_CLEANUP_H
#define SLUICE_CLEANUP_H

#include "sluice/error.h"

#include <stdlib.h>
#include <unistd.h>

static inline void sl_freep(void *p)
{
	free(*(void **)p);
}

static inline void sl_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void sl_error_releasep(sl_error **err)
{
	sl_error_release(err);
}

#define sl_autofree  __attribute__((cleanup(sl_freep)))
#define sl_autoclose __attribute__((cleanup(sl_closep)))
/* An error a function made and handled itself; one it returns is stolen. */
#define sl_autoerror __attribute__((cleanup(sl_error_releasep)))

/* Take p out of an sl_autofree variable: it is the caller's to free now. */
#define sl_steal_ptr(p)                                                                            \
	({                                                                                         \
		__typeof__(p) stolen_ = (p);                                                       \
		(p) = NULL;                                                                        \
		stolen_;                                                                           \
	})

/* Take the fd out of an sl_autoclose variable. */
static inline int sl_steal_fd(int *fd)
{
	int t = *fd;
	*fd = -1;
	return t;
}

#endif
