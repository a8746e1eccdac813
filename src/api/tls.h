/*
 * tls — the certificate of the admin API over HTTPS (--https):
 * DATA/tls/admin.crt and DATA/tls/admin.key (PEM; key 0600, directory
 * 0700). If both are absent, a self-signed ECDSA P-256 certificate is
 * generated (OpenSSL 3, 825 days). An administrator may replace the two
 * files with their own certificate and key; bulwarkd reads them at start.
 *
 * Library-like: nothing here logs; errors come back as an errno code and a
 * sentence in why (never key material).
 */
#ifndef BULWARK_API_TLS_H
#define BULWARK_API_TLS_H

#include <stdbool.h>
#include <stddef.h>

#define API_TLS_DIR      "tls"
#define API_TLS_NAME     "admin"
#define API_TLS_CERT     API_TLS_NAME ".crt"
#define API_TLS_KEY      API_TLS_NAME ".key"
#define API_TLS_DAYS     825
#define API_TLS_MAX_PEM  (64u << 10)   /* bound on a file we read */

/* What an administrator needs to pin the certificate (safe to log). */
struct api_tls_info {
	char fingerprint[96];   /* SHA-256 of the certificate (DER), "AB:CD:…" */
	char pin[72];           /* curl public-key pin: "sha256//" + base64 of
				 * SHA-256 of the SubjectPublicKeyInfo */
	char not_after[32];     /* "YYYY-MM-DD" (UTC) */
	int days_left;          /* negative: expired */
};

/* Make sure the certificate pair exists: if both files are absent,
 * generate a self-signed one whose subjectAltName holds DNS:localhost,
 * IP:127.0.0.1, IP:::1, the host name and the address of https_addr
 * ("ADDR:PORT", "[V6]:PORT") when it is a specific IP literal. Then check
 * the pair (api_tls_load). *created tells whether it was generated; info
 * (may be NULL) is filled. 0, or an errno code with a sentence in why. */
int api_tls_ensure(const char *data_dir, const char *https_addr,
		   bool *created, struct api_tls_info *info, char *why,
		   size_t whysz);

/* Read and check the pair: both parse, the key belongs to the
 * certificate. On success *cert and *key are malloc'd NUL-terminated PEM
 * (the caller wipes and frees *key) and info (may be NULL) is filled.
 * 0, or an errno code with a sentence in why. */
int api_tls_load(const char *data_dir, char **cert, char **key,
		 struct api_tls_info *info, char *why, size_t whysz);

/* The same for another pair of DATA/tls/: NAME.crt and NAME.key (the SIP
 * listener's is "sip"); addr is the listening "ADDR:PORT" whose IP
 * literal goes into a generated certificate's subjectAltName. */
int api_tls_ensure_pair(const char *data_dir, const char *name,
			const char *addr, bool *created,
			struct api_tls_info *info, char *why, size_t whysz);
int api_tls_load_pair(const char *data_dir, const char *name, char **cert,
		      char **key, struct api_tls_info *info, char *why,
		      size_t whysz);

#endif
