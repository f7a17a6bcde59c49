// The benchmark's native reference: the best straightforward per-packet C we could write for each
// workload, in the style of the kernel's traits RFC (include/net/trait.h): read the header once into
// two u64 locals, popcount the offset (__builtin_popcountll), load and store values with fixed-size
// 2/4/8-byte accesses (no variable memcpy), move tails with inline 8-byte words (no memmove call),
// one pass over the frames. Like the RFC it trusts the header (no check that it fits the store) and
// has one output array: it does less than the library (no header validation, no per-frame status),
// which is the point of comparing. Decode reads each value as one 8-byte load masked to its length
// (the 6 bytes it may read past a value are inside the frame: in an XDP buffer, packet bytes).
//
// Each exported function runs one workload over `count` frames of a ring in the byte array `mem` (a
// WebAssembly memory, passed by koffi without a copy): frame f's store starts at base + f * size, its
// capacity is the u32 at heads + 4f (the frame's head). Offsets are bytes into `mem`. Each returns the
// number of operations that succeeded. Built by bench/native.js (cc -O2 -march=native).
#include <stdint.h>
#include <string.h>

typedef uint64_t u64;
typedef uint32_t u32;
typedef uint16_t u16;
typedef uint8_t u8;

// Unaligned little-endian loads and stores of a fixed size (one instruction each on x86 and arm64).
static inline __attribute__((always_inline)) u64 ld64(const u8 *p)
{
	u64 v;
	memcpy(&v, p, 8);
	return v;
}
static inline __attribute__((always_inline)) u32 ld32(const u8 *p)
{
	u32 v;
	memcpy(&v, p, 4);
	return v;
}
static inline __attribute__((always_inline)) u16 ld16(const u8 *p)
{
	u16 v;
	memcpy(&v, p, 2);
	return v;
}
static inline __attribute__((always_inline)) void st64(u8 *p, u64 v)
{
	memcpy(p, &v, 8);
}
static inline __attribute__((always_inline)) void st32(u8 *p, u32 v)
{
	memcpy(p, &v, 4);
}
static inline __attribute__((always_inline)) void st16(u8 *p, u16 v)
{
	memcpy(p, &v, 2);
}

// Bytes of the values a header declares: 01 = 2, 10 = 4, 11 = 2 + 4 + 2 = 8.
static inline __attribute__((always_inline)) u32 total_length(u64 high, u64 low)
{
	return (__builtin_popcountll(low) << 1) + (__builtin_popcountll(high) << 2) +
	       (__builtin_popcountll(high & low) << 1);
}

// Size code (0..3) of `key`.
static inline __attribute__((always_inline)) u32 code_of(u64 high, u64 low, u32 key)
{
	return (u32)((high >> key) & 1) << 1 | (u32)((low >> key) & 1);
}

// Reads a value of size code 1..3 (2/4/8 bytes).
static inline __attribute__((always_inline)) u64 read_value(const u8 *at, u32 code)
{
	return code == 3 ? ld64(at) : code == 2 ? ld32(at) : ld16(at);
}

// Writes the low bytes of a value of size code 1..3.
static inline __attribute__((always_inline)) void write_value(u8 *at, u32 code, u64 v)
{
	if (code == 3)
		st64(at, v);
	else if (code == 2)
		st32(at, (u32)v);
	else
		st16(at, (u16)v);
}

// Moves the n (even) bytes at src up by `by`, highest word first; loads every word before its store.
static inline __attribute__((always_inline)) void move_up(u8 *src, u32 n, u32 by)
{
	if (n >= 8) {
		u64 head = ld64(src);
		u32 i = n;
		while (i > 8) {
			i -= 8;
			st64(src + i + by, ld64(src + i));
		}
		st64(src + by, head);
	} else if (n >= 4) {
		u32 head = ld32(src), tail = ld32(src + n - 4);
		st32(src + n - 4 + by, tail);
		st32(src + by, head);
	} else if (n)
		st16(src + by, ld16(src));
}

// Moves the n (even) bytes at src down by `by`, lowest word first.
static inline __attribute__((always_inline)) void move_down(u8 *src, u32 n, u32 by)
{
	if (n >= 8) {
		u64 tail = ld64(src + n - 8);
		for (u32 i = 0; i + 8 < n; i += 8)
			st64(src + i - by, ld64(src + i));
		st64(src + n - 8 - by, tail);
	} else if (n >= 4) {
		u32 head = ld32(src), tail = ld32(src + n - 4);
		st32(src - by, head);
		st32(src + n - 4 - by, tail);
	} else if (n)
		st16(src - by, ld16(src));
}

// trait_set of the RFC: overwrite (same size), insert (room checked against `end`), or refuse
// (another size: -1, no room: -1). Returns 0 on success.
static inline __attribute__((always_inline)) int trait_set(u8 *t, const u8 *end, u32 key, u32 code, u64 v)
{
	u64 high = ld64(t), low = ld64(t + 8), bit = 1ull << key;
	u32 off = 16 + total_length(high & (bit - 1), low & (bit - 1));
	u32 old = code_of(high, low, key);
	if (old) {
		if (old != code)
			return -1;
	} else {
		u32 len = 1u << code, used = 16 + total_length(high, low);
		if (t + used + len > end)
			return -1;
		move_up(t + off, used - off, len);
		st64(t, high | (u64)(code >> 1) << key);
		st64(t + 8, low | (u64)(code & 1) << key);
	}
	write_value(t + off, code, v);
	return 0;
}

// trait_del of the RFC: returns 0, or -1 if absent.
static inline __attribute__((always_inline)) int trait_del(u8 *t, u32 key)
{
	u64 high = ld64(t), low = ld64(t + 8), bit = 1ull << key;
	u32 code = code_of(high, low, key);
	if (!code)
		return -1;
	u32 off = 16 + total_length(high & (bit - 1), low & (bit - 1)), len = 1u << code;
	u32 used = 16 + total_length(high, low);
	move_down(t + off + len, used - off - len, len);
	st64(t, high & ~bit);
	st64(t + 8, low & ~bit);
	return 0;
}

#define STORE(f) (mem + base + (size_t)(f) * size)
#define END(f) (STORE(f) + ((const u32 *)(mem + heads))[f])

// Keeps the floor's loads from being optimized away.
volatile u64 tr_sink;

/** The memory floor: one 8-byte read of each frame's header line, nothing else. Returns count. */
int tr_floor(u8 *mem, u32 base, u32 count, u32 size)
{
	u64 x = 0;
	for (u32 f = 0; f < count; f++)
		x ^= ld64(STORE(f));
	tr_sink = x;
	return (int)count;
}

/** Gets `key` of every frame into the u64 at out + 8f (zero-extended; 0 if absent). */
int tr_get(u8 *mem, u32 base, u32 count, u32 size, u32 key, u32 out)
{
	u64 *values = (u64 *)(mem + out), below = (1ull << key) - 1;
	int ok = 0;
	for (u32 f = 0; f < count; f++) {
		const u8 *t = STORE(f);
		u64 high = ld64(t), low = ld64(t + 8), v = 0;
		u32 code = code_of(high, low, key);
		if (code) {
			v = read_value(t + 16 + total_length(high & below, low & below), code);
			ok++;
		}
		values[f] = v;
	}
	return ok;
}

/** Sets `key` of every frame to the low `len` bytes of (hi:lo). */
int tr_set(u8 *mem, u32 base, u32 count, u32 size, u32 heads, u32 key, u32 len, u32 lo, u32 hi)
{
	u64 value = (u64)hi << 32 | lo;
	u32 code = len == 8 ? 3 : len == 4 ? 2 : 1;
	int ok = 0;
	for (u32 f = 0; f < count; f++)
		ok += trait_set(STORE(f), END(f), key, code, value) == 0;
	return ok;
}

/** Inserts `key` (`len` bytes of lo) into every frame, then deletes it, in one visit: two operations a frame. */
int tr_insert_delete(u8 *mem, u32 base, u32 count, u32 size, u32 heads, u32 key, u32 len, u32 lo)
{
	u32 code = len == 8 ? 3 : len == 4 ? 2 : 1;
	int ok = 0;
	for (u32 f = 0; f < count; f++) {
		ok += trait_set(STORE(f), END(f), key, code, lo) == 0;
		ok += trait_del(STORE(f), key) == 0;
	}
	return ok;
}

/**
 * Decodes every frame's store into the arrays keys (u8), lens (u8) and values (u64) with room for
 * `room` entries (>= 64), starting over at entry 0 when fewer than 64 are left. Returns the entries.
 */
int tr_decode(u8 *mem, u32 base, u32 count, u32 size, u32 keys, u32 lens, u32 values, u32 room)
{
	u8 *k = mem + keys, *l = mem + lens;
	u64 *v = (u64 *)(mem + values);
	u32 n = 0;
	int entries = 0;
	for (u32 f = 0; f < count; f++) {
		const u8 *t = STORE(f);
		u64 high = ld64(t), low = ld64(t + 8), rest = high | low;
		const u8 *at = t + 16;
		if (room - n < 64)
			n = 0;
		entries += __builtin_popcountll(rest);
		while (rest) {
			u32 key = __builtin_ctzll(rest), code = code_of(high, low, key);
			rest &= rest - 1;
			k[n] = key;
			l[n] = 1u << code;
			v[n] = ld64(at) & (~0ull >> (64 - (8u << code)));
			at += 1u << code;
			n++;
		}
	}
	return entries;
}

/**
 * Annotates every frame: clear, then packet id (key 5, 8 B), flow hash (6, 4 B), vlan (7, 2 B) and
 * timestamp (8, 8 B) from frame i's four u64 value slots at vals + 32i (which the caller filled, as
 * the batch side fills its burst's slots): per packet, an init and four trait_set.
 */
int tr_annotate(u8 *mem, u32 base, u32 count, u32 size, u32 heads, u32 vals)
{
	const u64 *v = (const u64 *)(mem + vals);
	int ok = 0;
	for (u32 f = 0; f < count; f++, v += 4) {
		u8 *t = STORE(f);
		const u8 *end = END(f);
		if (t + 16 > end)
			continue;
		st64(t, 0);
		st64(t + 8, 0);
		ok += (trait_set(t, end, 5, 3, v[0]) | trait_set(t, end, 6, 2, v[1]) | trait_set(t, end, 7, 1, v[2]) |
		       trait_set(t, end, 8, 3, v[3])) == 0;
	}
	return ok;
}

/** Writes `byte` at mem + at and returns what is at mem + at + 1: shows that koffi passed the memory itself. */
int tr_probe(u8 *mem, u32 at, u32 byte)
{
	mem[at] = byte;
	return mem[at + 1];
}
