/* hash.c — see include/sluice/hash.h. */
#include "sluice/hash.h"

#include "sluice/arena.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void to_hex(const unsigned char *md, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = 0;
}

void hash_bytes_sha256(const void *data, size_t len, char *hex)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	to_hex(md, hex);
}

int hash_file_sha256(const char *path, char *hex, uint64_t *size, sl_error **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl_error_errno(err, errno, "open %s", path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		close(fd);
		return sl_error_make(err, "sha256: cannot initialise OpenSSL");
	}
	size_t bufsize = 1u << 20;
	unsigned char *buf = xmalloc(bufsize);
	uint64_t total = 0;
	int rc = 0;
	for (;;) {
		ssize_t r = read(fd, buf, bufsize);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = sl_error_errno(err, errno, "read %s", path);
			break;
		}
		if (r == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)r);
		total += (uint64_t)r;
	}
	if (rc == 0) {
		unsigned char md[32];
		unsigned int mdlen = 0;
		EVP_DigestFinal_ex(ctx, md, &mdlen);
		to_hex(md, hex);
		if (size)
			*size = total;
	}
	free(buf);
	EVP_MD_CTX_free(ctx);
	close(fd);
	return rc;
}
