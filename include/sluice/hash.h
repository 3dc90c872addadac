/*
 * hash.h — SHA-256 with OpenSSL's EVP (hardware accelerated), streamed in
 * large blocks so big files are never held in memory.
 */
#ifndef SLUICE_HASH_H
#define SLUICE_HASH_H

#include "sluice/error.h"

#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 64

/* hex must hold SHA256_HEX_LEN + 1 bytes. */
int hash_file_sha256(const char *path, char *hex, uint64_t *size, sl_error **err);
void hash_bytes_sha256(const void *data, size_t len, char *hex);

#endif
