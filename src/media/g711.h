/*
 * g711 — G.711 µ-law and A-law for the media endpoint, on librem's
 * tables. Encoding clamps -32768 to -32767 first (librem 0.6.0 maps it
 * to silence in µ-law and to a wrong level in A-law).
 */
#ifndef BULWARK_MEDIA_G711_H
#define BULWARK_MEDIA_G711_H

#include <stddef.h>
#include <stdint.h>

enum g711_law { G711_ULAW = 0, G711_ALAW = 8 };  /* = static RTP PT */

void g711x_encode(enum g711_law law, uint8_t *out, const int16_t *in,
		  size_t n);
void g711x_decode(enum g711_law law, int16_t *out, const uint8_t *in,
		  size_t n);

#endif
