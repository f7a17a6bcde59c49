/* SPDX-License-Identifier: MIT */
/*
 * traits.bpf.h - the packet-traits store for BPF programs (XDP, TC).
 *
 * Reads and writes a traits store in a bounded region of packet memory: the XDP metadata area
 * [ctx->data_meta, ctx->data), or packet data ending at ctx->data_end. Byte for byte and errno for
 * errno what the packet-traits library (TypeScript/WebAssembly) does, in both size profiles.
 *
 * Include it after <linux/types.h> (or vmlinux.h) and <bpf/bpf_helpers.h>.
 *
 * The region: every function takes `start` and `end`, and touches only [start, end).
 *   - `end` must be a pointer the verifier knows as the end of packet memory: ctx->data when the
 *     store is the metadata area, ctx->data_end when it is in packet data. Every access is checked
 *     against it, which is what lets the verifier accept the variable offsets.
 *   - `start` must be a packet pointer (data_meta or data plus an offset).
 *   - `val` (set) and `out` (get) must be memory the verifier can check at a fixed size, such as
 *     an 8-byte buffer on the stack: up to 8 bytes are read or written there.
 * Every function is __always_inline, and its loops are bounded (at most 64 moves of 8 bytes and 3 of
 * 2 bytes), so kernels from 5.3 on (bounded loops) verify them: a set costs the verifier about
 * 7,000 instructions of its 1,000,000 when the length is not a constant. Accesses may be unaligned
 * (values sit at even offsets), which the verifier allows where the architecture has efficient
 * unaligned access (x86-64, arm64).
 *
 * Results are 0 (or a length, or 0/1) on success, else a negative errno:
 *   -EINVAL   a key above 63, or a length the profile has no size code for
 *   -ENOMEM   the region is shorter than the 16-byte header
 *   -EBADMSG  the header declares more bytes than the region holds (a corrupt or hostile store);
 *             nothing is changed
 *   -ENOENT   the key is absent (get, del)
 *   -EBUSY    set: the key is present with another length (delete it first)
 *   -ENOSPC   set: no room for the value; get: `out_len` is shorter than the value
 *   -EFAULT   never returned: it is the branch that proves each access in bounds to the verifier
 * On any error nothing in the region (nor in `out`) is written.
 */
#ifndef PACKET_TRAITS_BPF_H
#define PACKET_TRAITS_BPF_H

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef ENOMEM
#define ENOMEM 12
#endif
#ifndef EFAULT
#define EFAULT 14
#endif
#ifndef EBUSY
#define EBUSY 16
#endif
#ifndef EINVAL
#define EINVAL 22
#endif
#ifndef ENOSPC
#define ENOSPC 28
#endif
#ifndef EBADMSG
#define EBADMSG 74
#endif

/* Size profiles: what size code 01 means. */
enum traits_profile {
	TRAITS_V1 = 0,    /* 01/10/11 = 2/4/8-byte values (the original 2024 proposal) */
	TRAITS_FLAGS = 1, /* 01/10/11 = a flag (no value bytes)/4/8-byte values */
};

/*
 * TRAITS_PROGRAM(profile, meta_bytes): declares, once per object, the profile of the stores its
 * programs write and the length of the metadata area they make (0: none, or not always the same).
 * It is a 16-byte record in the object's ".traits" section, which libbpf does not load and the
 * library reads from the file: `xdp run` refuses a --profile other than the declared one,
 * `xdp capture` and XskSocket a --meta-length or pool other than the declared one, before any
 * packet. Without it they can only check the stores packet by packet.
 */
struct traits_declaration {
	char magic[8];     /* "traits1" */
	__u32 profile;     /* enum traits_profile */
	__u32 meta_bytes;  /* a multiple of 4, at most 252; 0: not declared */
};
#define TRAITS_PROGRAM(profile, meta_bytes)                                                     \
	const struct traits_declaration __traits_declaration SEC(".traits") __attribute__((used)) = \
		{ "traits1", (profile), (meta_bytes) }

/*
 * The header: two little-endian u64 words, `high` at byte 0 and `low` at byte 8. Key k (0..63)
 * owns bit k of both; (high bit, low bit) is its size code: 00 absent, 01 small (2 bytes, or a
 * flag), 10 4 bytes, 11 8 bytes. The values follow, packed in ascending key order.
 *
 * Why two words rather than 2-bit fields side by side: the offset of key k's value is the size of
 * the keys below it, and with the codes split over two words that is three popcounts of the
 * words masked to bits 0..k-1 (small = low & ~high, then high, and high & low once more, since an
 * 8-byte value is two 4-byte units), with no loop over the keys: see __traits_size_of.
 */
#define TRAITS_HEADER 16
#define TRAITS_KEYS 64
/* The largest store: the header and 64 eight-byte values. */
#define TRAITS_MAX_SIZE (TRAITS_HEADER + TRAITS_KEYS * 8)
/* Offsets are below TRAITS_MAX_SIZE + 8; masking with this changes none and bounds them for the verifier. */
#define __TRAITS_OFF_MASK 1023

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define __traits_le64(x) __builtin_bswap64(x)
#else
#define __traits_le64(x) (x)
#endif

/* Bytes a size code 01 value takes: 2 in TRAITS_V1, 0 (a flag) in TRAITS_FLAGS. */
static __always_inline __u32 __traits_small(int profile)
{
	return profile == TRAITS_FLAGS ? 0 : 2;
}

/* Bytes the values of the keys in `mask` take: the one place of the offset math. */
static __always_inline __u32 __traits_size_of(__u64 high, __u64 low, __u64 mask, int profile)
{
	__u32 small = __builtin_popcountll(low & ~high & mask);
	__u32 units = __builtin_popcountll(high & mask) + __builtin_popcountll(high & low & mask);

	return small * __traits_small(profile) + units * 4;
}

/* Size code (0..3) of `key` (below 64) in a header. */
static __always_inline __u32 __traits_code_at(__u64 high, __u64 low, __u64 key)
{
	return (((high >> key) & 1) << 1) | ((low >> key) & 1);
}

/* Bytes of a value of size code `code` (1..3). */
static __always_inline __u32 __traits_length_of(__u32 code, int profile)
{
	return code == 3 ? 8 : code == 2 ? 4 : __traits_small(profile);
}

/* Size code (1..3) of a value length, or 0 if the profile has no such size. */
static __always_inline __u32 __traits_code_of(__u64 len, int profile)
{
	if (len == 8)
		return 3;
	if (len == 4)
		return 2;
	return len == __traits_small(profile) ? 1 : 0;
}

/* start + off, with off masked so that the verifier knows its bounds (the mask changes no offset). */
#define __traits_ptr(start, off) ((void *)(start) + ((off) & __TRAITS_OFF_MASK))
/* True if `size` (a constant) bytes at `p` lie before `end`: the check each access needs. */
#define __traits_fits(p, size, end) ((void *)(p) + (size) <= (end))

/*
 * Reads the header of the store at `start` into *high and *low.
 * Returns the bytes in use (header included), -ENOMEM if the region is shorter than the header,
 * -EBADMSG if the header declares more than the region holds.
 */
static __always_inline int __traits_header(void *start, void *end, int profile, __u64 *high, __u64 *low)
{
	__u64 *words = start;
	__u32 used;

	if (start + TRAITS_HEADER > end)
		return -ENOMEM;
	*high = __traits_le64(words[0]);
	*low = __traits_le64(words[1]);
	used = TRAITS_HEADER + __traits_size_of(*high, *low, ~0ULL, profile);
	if (!__traits_fits(__traits_ptr(start, used), 0, end))
		return -EBADMSG;
	return used;
}

/* Writes the header words (the region holds at least the header: checked by __traits_header). */
static __always_inline void __traits_put_header(void *start, __u64 high, __u64 low)
{
	__u64 *words = start;

	words[0] = __traits_le64(high);
	words[1] = __traits_le64(low);
}

/* Copies `len` (0, 2, 4 or 8) bytes between the store at offset `off` and `buf`; 0 or -EFAULT. */
static __always_inline int __traits_copy(void *start, void *end, __u32 off, void *buf, __u32 len, int to_store)
{
	void *p = __traits_ptr(start, off);

	if (len == 8) {
		if (!__traits_fits(p, 8, end))
			return -EFAULT;
		to_store ? __builtin_memcpy(p, buf, 8) : __builtin_memcpy(buf, p, 8);
	} else if (len == 4) {
		if (!__traits_fits(p, 4, end))
			return -EFAULT;
		to_store ? __builtin_memcpy(p, buf, 4) : __builtin_memcpy(buf, p, 4);
	} else if (len == 2) {
		if (!__traits_fits(p, 2, end))
			return -EFAULT;
		to_store ? __builtin_memcpy(p, buf, 2) : __builtin_memcpy(buf, p, 2);
	}
	return 0;
}

/*
 * Hides where a value came from, so that what the loop's exit test teaches the verifier about it
 * stays with it: otherwise each exit leaves `used` or `off` with other bounds, the verifier cannot
 * prune, and it walks everything after the loop once per iteration.
 */
#define __traits_opaque(x) asm volatile("" : "+r"(x))

/*
 * Moves the values in [off, used) up by `by` bytes (0..8): 8 bytes at a time from the top, then
 * the 2-byte rest at the bottom, so that every byte is read before it is overwritten. 0 or -EFAULT.
 */
static __always_inline int __traits_move_up(void *start, void *end, __u32 off, __u32 used, __u32 by)
{
	__u32 n = used - off, rest = n & 7;

	__traits_opaque(n);
	for (__u32 i = 0; i < TRAITS_KEYS; i++) {
		__u64 *src = __traits_ptr(start, used - 8 - 8 * i), *dst = __traits_ptr(start, used - 8 - 8 * i + by);

		if (8 * i + 8 > n)
			break;
		if (!__traits_fits(src, 8, end) || !__traits_fits(dst, 8, end))
			return -EFAULT;
		*dst = *src;
	}
	for (__u32 i = 0; i < 3; i++) {
		__u16 *src = __traits_ptr(start, off + rest - 2 - 2 * i), *dst = __traits_ptr(start, off + rest - 2 - 2 * i + by);

		if (2 * i >= rest)
			break;
		if (!__traits_fits(src, 2, end) || !__traits_fits(dst, 2, end))
			return -EFAULT;
		*dst = *src;
	}
	return 0;
}

/*
 * Moves the values in [off + by, used) down by `by` bytes (0..8): 8 bytes at a time from the
 * bottom, then the 2-byte rest at the top, so that every byte is read before it is overwritten.
 * 0 or -EFAULT.
 */
static __always_inline int __traits_move_down(void *start, void *end, __u32 off, __u32 used, __u32 by)
{
	__u32 n = used - off - by, rest = n & 7, top = off + n - rest;

	__traits_opaque(n);
	for (__u32 i = 0; i < TRAITS_KEYS; i++) {
		__u64 *src = __traits_ptr(start, off + 8 * i + by), *dst = __traits_ptr(start, off + 8 * i);

		if (8 * i + 8 > n)
			break;
		if (!__traits_fits(src, 8, end) || !__traits_fits(dst, 8, end))
			return -EFAULT;
		*dst = *src;
	}
	for (__u32 i = 0; i < 3; i++) {
		__u16 *src = __traits_ptr(start, top + 2 * i + by), *dst = __traits_ptr(start, top + 2 * i);

		if (2 * i >= rest)
			break;
		if (!__traits_fits(src, 2, end) || !__traits_fits(dst, 2, end))
			return -EFAULT;
		*dst = *src;
	}
	return 0;
}

/**
 * traits_init() - make an empty store: zero the 16-byte header.
 * @start: first byte of the store
 * @end:   end of the region (ctx->data for the metadata area, ctx->data_end in packet data)
 *
 * Return: 0, or -ENOMEM if the region is shorter than the header.
 */
static __always_inline int traits_init(void *start, void *end)
{
	if (start + TRAITS_HEADER > end)
		return -ENOMEM;
	__traits_put_header(start, 0, 0);
	return 0;
}

/**
 * traits_size() - bytes in use: the header and every value.
 * @start:   first byte of the store
 * @end:     end of the region
 * @profile: TRAITS_V1 or TRAITS_FLAGS
 *
 * Return: the size (16..528), -ENOMEM (region shorter than the header) or -EBADMSG (the header
 * declares more than the region holds).
 */
static __always_inline int traits_size(void *start, void *end, int profile)
{
	__u64 high, low;

	return __traits_header(start, end, profile, &high, &low);
}

/**
 * traits_has() - whether a key is present.
 * @start:   first byte of the store
 * @end:     end of the region
 * @profile: TRAITS_V1 or TRAITS_FLAGS
 * @key:     0..63
 *
 * Return: 1 if present, 0 if absent, -EINVAL (key above 63), -ENOMEM, -EBADMSG.
 */
static __always_inline int traits_has(void *start, void *end, int profile, __u64 key)
{
	__u64 high, low;
	int used;

	if (key >= TRAITS_KEYS)
		return -EINVAL;
	used = __traits_header(start, end, profile, &high, &low);
	if (used < 0)
		return used;
	return ((high | low) >> key) & 1;
}

/**
 * traits_get() - copy a key's value out.
 * @start:   first byte of the store
 * @end:     end of the region
 * @profile: TRAITS_V1 or TRAITS_FLAGS
 * @key:     0..63
 * @out:     where the value's bytes go (as stored: little-endian); nothing for a flag
 * @out_len: bytes available at @out
 *
 * Return: the value's length (0 for a flag, 2, 4 or 8), -EINVAL (key above 63), -ENOMEM,
 * -EBADMSG, -ENOENT (absent), -ENOSPC (@out_len shorter than the value; @out is untouched).
 */
static __always_inline int traits_get(void *start, void *end, int profile, __u64 key, void *out, __u64 out_len)
{
	__u64 high, low;
	__u32 code, len, off;
	int used, err;

	if (key >= TRAITS_KEYS)
		return -EINVAL;
	used = __traits_header(start, end, profile, &high, &low);
	if (used < 0)
		return used;
	code = __traits_code_at(high, low, key);
	if (!code)
		return -ENOENT;
	len = __traits_length_of(code, profile);
	if (len > out_len)
		return -ENOSPC;
	off = TRAITS_HEADER + __traits_size_of(high, low, (1ULL << key) - 1, profile);
	err = __traits_copy(start, end, off, out, len, 0);
	return err ? err : len;
}

/**
 * traits_set() - add a key or overwrite its value, keeping the values in key order.
 * @start:   first byte of the store
 * @end:     end of the region
 * @profile: TRAITS_V1 or TRAITS_FLAGS
 * @key:     0..63
 * @val:     the value's bytes (little-endian); not read for a flag
 * @len:     2, 4 or 8 (TRAITS_V1); 0 (a flag), 4 or 8 (TRAITS_FLAGS)
 *
 * A new key moves the values above it up by @len bytes; a present key is overwritten in place.
 *
 * Return: 0, -EINVAL (key above 63, or a length the profile does not have), -ENOMEM, -EBADMSG,
 * -EBUSY (present with another length), -ENOSPC (no room in the region).
 */
static __always_inline int traits_set(void *start, void *end, int profile, __u64 key, void *val, __u64 len)
{
	__u32 code = __traits_code_of(len, profile), old, off;
	__u64 high, low, bit;
	int used, err;

	if (key >= TRAITS_KEYS || !code)
		return -EINVAL;
	used = __traits_header(start, end, profile, &high, &low);
	if (used < 0)
		return used;
	bit = 1ULL << key;
	off = TRAITS_HEADER + __traits_size_of(high, low, bit - 1, profile);
	old = __traits_code_at(high, low, key);
	if (old)
		return old != code ? -EBUSY : __traits_copy(start, end, off, val, len, 1);
	if (!__traits_fits(__traits_ptr(start, used + len), 0, end))
		return -ENOSPC;
	err = __traits_move_up(start, end, off, used, len);
	if (!err)
		err = __traits_copy(start, end, off, val, len, 1);
	if (err)
		return err;
	__traits_put_header(start, code & 2 ? high | bit : high, code & 1 ? low | bit : low);
	return 0;
}

/**
 * traits_del() - remove a key, moving the values above it down.
 * @start:   first byte of the store
 * @end:     end of the region
 * @profile: TRAITS_V1 or TRAITS_FLAGS
 * @key:     0..63
 *
 * Return: 0, -EINVAL (key above 63), -ENOMEM, -EBADMSG, -ENOENT (absent).
 */
static __always_inline int traits_del(void *start, void *end, int profile, __u64 key)
{
	__u64 high, low, bit;
	__u32 code, off;
	int used, err;

	if (key >= TRAITS_KEYS)
		return -EINVAL;
	used = __traits_header(start, end, profile, &high, &low);
	if (used < 0)
		return used;
	code = __traits_code_at(high, low, key);
	if (!code)
		return -ENOENT;
	bit = 1ULL << key;
	off = TRAITS_HEADER + __traits_size_of(high, low, bit - 1, profile);
	err = __traits_move_down(start, end, off, used, __traits_length_of(code, profile));
	if (err)
		return err;
	__traits_put_header(start, high & ~bit, low & ~bit);
	return 0;
}

#endif /* PACKET_TRAITS_BPF_H */
