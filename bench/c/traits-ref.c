// The benchmark's native reference: straightforward per-packet C in the style of the kernel's traits
// RFC (include/net/trait.h): read the header, popcount the offset, memcpy/memmove the value. Like the
// RFC it trusts the header (no check that it fits the store) and has one output array; it does less
// than the library (no header validation, no per-frame status), which is the point of comparing.
//
// Each exported function runs one workload over `count` frames of a ring in the byte array `mem` (a
// WebAssembly memory, passed by koffi without a copy): frame f's store starts at base + f * size, its
// capacity is the u32 at heads + 4f (the frame's head). Offsets are bytes into `mem`. Each returns the
// number of operations that succeeded. Built by bench/native.js (cc -O2 -march=native).
#include <errno.h>
#include <stdint.h>
#include <string.h>

typedef uint64_t u64;

struct trait_hdr {
	u64 high;
	u64 low;
};

// Bytes of the values a header declares: 01 = 2, 10 = 4, 11 = 2 + 4 + 2 = 8.
static inline int trait_total_length(struct trait_hdr h)
{
	return (__builtin_popcountll(h.low) << 1) + (__builtin_popcountll(h.high) << 2) +
	       (__builtin_popcountll(h.high & h.low) << 1);
}

static inline struct trait_hdr trait_and(struct trait_hdr h, u64 mask)
{
	return (struct trait_hdr){ h.high & mask, h.low & mask };
}

static inline int trait_offset(struct trait_hdr h, u64 key)
{
	return sizeof(struct trait_hdr) + trait_total_length(trait_and(h, (1ull << key) - 1));
}

static inline int traits_size(void *traits)
{
	return sizeof(struct trait_hdr) + trait_total_length(*(struct trait_hdr *)traits);
}

static inline int traits_init(void *traits, void *hard_end)
{
	if ((char *)traits + sizeof(struct trait_hdr) > (char *)hard_end)
		return -ENOMEM;
	memset(traits, 0, sizeof(struct trait_hdr));
	return 0;
}

static inline int trait_set(void *traits, void *hard_end, u64 key, const void *val, u64 len)
{
	struct trait_hdr *h = traits;
	u64 bit = 1ull << key, code;

	if (key > 63)
		return -EINVAL;
	if (len != 2 && len != 4 && len != 8)
		return -EINVAL;
	int off = trait_offset(*h, key);
	if ((h->high | h->low) & bit) {
		if ((u64)trait_total_length(trait_and(*h, bit)) != len)
			return -EINVAL;
	} else {
		int size = traits_size(traits);
		if ((char *)traits + size + len > (char *)hard_end)
			return -ENOSPC;
		if (size > off)
			memmove((char *)traits + off + len, (char *)traits + off, size - off);
	}
	code = len == 2 ? 1 : len == 4 ? 2 : 3;
	h->high |= (code >> 1) << key;
	h->low |= (code & 1) << key;
	memcpy((char *)traits + off, val, len);
	return 0;
}

static inline int trait_get(void *traits, u64 key, void *val, u64 val_len)
{
	struct trait_hdr h = *(struct trait_hdr *)traits;
	u64 bit = 1ull << key;

	if (key > 63)
		return -EINVAL;
	if (!((h.high | h.low) & bit))
		return -ENOENT;
	int off = trait_offset(h, key);
	int len = trait_total_length(trait_and(h, bit));
	if ((u64)len > val_len)
		return -ENOSPC;
	memcpy(val, (char *)traits + off, len);
	return len;
}

static inline int trait_del(void *traits, u64 key)
{
	struct trait_hdr *h = traits;
	u64 bit = 1ull << key;

	if (key > 63)
		return -EINVAL;
	if (!((h->high | h->low) & bit))
		return -ENOENT;
	int off = trait_offset(*h, key);
	int len = trait_total_length(trait_and(*h, bit));
	memmove((char *)traits + off, (char *)traits + off + len, traits_size(traits) - off - len);
	h->high &= ~bit;
	h->low &= ~bit;
	return 0;
}

#define STORE(f) (mem + base + (size_t)(f) * size)
#define END(f) (STORE(f) + ((const uint32_t *)(mem + heads))[f])

/** Gets `key` of every frame into the u64 at out + 8f (zero-extended). */
int tr_get(uint8_t *mem, uint32_t base, uint32_t count, uint32_t size, uint32_t key, uint32_t out)
{
	u64 *values = (u64 *)(mem + out);
	int ok = 0;
	for (uint32_t f = 0; f < count; f++) {
		values[f] = 0;
		ok += trait_get(STORE(f), key, &values[f], 8) >= 0;
	}
	return ok;
}

/** Sets `key` of every frame to the low `len` bytes of (hi:lo). */
int tr_set(uint8_t *mem, uint32_t base, uint32_t count, uint32_t size, uint32_t heads, uint32_t key, uint32_t len,
	   uint32_t lo, uint32_t hi)
{
	u64 value = (u64)hi << 32 | lo;
	int ok = 0;
	for (uint32_t f = 0; f < count; f++)
		ok += trait_set(STORE(f), END(f), key, &value, len) == 0;
	return ok;
}

/** Inserts `key` (`len` bytes of lo) into every frame, then deletes it: two operations a frame. */
int tr_insert_delete(uint8_t *mem, uint32_t base, uint32_t count, uint32_t size, uint32_t heads, uint32_t key,
		     uint32_t len, uint32_t lo)
{
	u64 value = lo;
	int ok = 0;
	for (uint32_t f = 0; f < count; f++) {
		ok += trait_set(STORE(f), END(f), key, &value, len) == 0;
		ok += trait_del(STORE(f), key) == 0;
	}
	return ok;
}

/**
 * Decodes every frame's store into the arrays keys (u8), lens (u8) and values (u64) with room for
 * `room` entries (>= 64), starting over at entry 0 when fewer than 64 are left. Returns the entries.
 */
int tr_decode(uint8_t *mem, uint32_t base, uint32_t count, uint32_t size, uint32_t keys, uint32_t lens,
	      uint32_t values, uint32_t room)
{
	uint8_t *k = mem + keys, *l = mem + lens;
	u64 *v = (u64 *)(mem + values);
	uint32_t n = 0;
	int entries = 0;
	for (uint32_t f = 0; f < count; f++) {
		uint8_t *traits = STORE(f);
		struct trait_hdr h = *(struct trait_hdr *)traits;
		u64 rest = h.high | h.low;
		int off = sizeof(struct trait_hdr);
		if (room - n < 64)
			n = 0;
		while (rest) {
			int key = __builtin_ctzll(rest);
			int len = trait_total_length(trait_and(h, 1ull << key));
			rest &= rest - 1;
			k[n] = key;
			l[n] = len;
			v[n] = 0;
			memcpy(&v[n], traits + off, len);
			off += len;
			n++;
			entries++;
		}
	}
	return entries;
}

/** Annotates every frame: clear, then packet id (key 5, 8 B), flow hash (6, 4 B), vlan (7, 2 B), timestamp (8, 8 B). */
int tr_annotate(uint8_t *mem, uint32_t base, uint32_t count, uint32_t size, uint32_t heads, uint32_t id,
		uint32_t ts_lo, uint32_t ts_hi)
{
	u64 ts = (u64)ts_hi << 32 | ts_lo;
	int ok = 0;
	for (uint32_t f = 0; f < count; f++, id++) {
		u64 pid = id, hash = (uint32_t)(id * 0x9e3779b1u), vlan = id & 0xfff;
		void *traits = STORE(f), *end = END(f);
		ok += (traits_init(traits, end) | trait_set(traits, end, 5, &pid, 8) |
		       trait_set(traits, end, 6, &hash, 4) | trait_set(traits, end, 7, &vlan, 2) |
		       trait_set(traits, end, 8, &ts, 8)) == 0;
	}
	return ok;
}

/** Writes `byte` at mem + at and returns what is at mem + at + 1: shows that koffi passed the memory itself. */
int tr_probe(uint8_t *mem, uint32_t at, uint32_t byte)
{
	mem[at] = byte;
	return mem[at + 1];
}
