// SPDX-License-Identifier: MIT
/*
 * oracle.bpf.c - the kernel as an oracle for the traits format.
 *
 * An XDP program, run with BPF_PROG_TEST_RUN, that applies a list of ops carried in the packet to
 * a store and writes each op's result back into the packet, so that data_out holds the results
 * and the store. test/xdp/oracle.test.ts replays the same ops through the library and compares.
 *
 * The packet (all little-endian):
 *   struct oracle_hdr, then `nops` struct oracle_op records, then the region: `region` bytes that
 *   end the packet.
 *   - place ORACLE_META: the program grows a metadata area of `region` bytes
 *     (bpf_xdp_adjust_meta) and copies the region into it; the store is its last `cap` bytes, so
 *     it ends at ctx->data. The bytes before it are guards the program never writes.
 *   - place ORACLE_TAIL: the store is the last `cap` bytes of the packet, ending at ctx->data_end
 *     (for capacities above what the metadata area can hold).
 * data_out is the metadata area (if any) followed by the packet, with every record's outputs set.
 * The program returns XDP_PASS, or XDP_ABORTED for a malformed packet.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include "traits.bpf.h"

enum oracle_place { ORACLE_META = 0, ORACLE_TAIL = 1 };
enum oracle_kind { ORACLE_SET = 0, ORACLE_GET = 1, ORACLE_DEL = 2, ORACLE_HAS = 3, ORACLE_INIT = 4 };

struct oracle_hdr {
	__u8 profile; /* enum traits_profile */
	__u8 place;   /* enum oracle_place */
	__u16 cap;    /* the store's capacity */
	__u16 region; /* bytes of the region (cap, plus up to 3 guard bytes before it for ORACLE_META) */
	__u16 nops;
	__u8 reserved[8];
};

struct oracle_op {
	__u64 key;       /* in */
	__u8 value[8];   /* in: set's value; get: the out buffer's bytes before (in), after (out) */
	__u32 len;       /* in: set's length, get's out_len */
	__u8 kind;       /* in: enum oracle_kind */
	__u8 reserved[3];
	__s32 rc;        /* out: the op's result */
	__s32 size;      /* out: traits_size() after the op */
	__u8 header[16]; /* out: the store's first 16 bytes after the op */
};

/* The largest metadata area bpf_xdp_adjust_meta grants in BPF_PROG_TEST_RUN (headroom 256 less struct xdp_frame). */
#define ORACLE_META_MAX 216
/* Offsets into the packet are below this (BPF_PROG_TEST_RUN data is at most a page). */
#define ORACLE_OFF_MASK 4095

struct oracle_run {
	struct xdp_md *ctx;
	int profile;
	__u32 place;
	__u32 at; /* the store's offset from data_meta (ORACLE_META) or data (ORACLE_TAIL) */
};

/* Packet pointers, loaded together (clang must not turn a ctx field load into ctx + offset). */
struct oracle_pkt {
	void *meta, *data, *end;
};

static __always_inline struct oracle_pkt oracle_pkt(struct xdp_md *ctx)
{
	struct oracle_pkt pkt;

	pkt.meta = (void *)(long)ctx->data_meta;
	pkt.data = (void *)(long)ctx->data;
	pkt.end = (void *)(long)ctx->data_end;
	return pkt;
}

/* Op i's record, or NULL past the packet's end. */
static __always_inline struct oracle_op *oracle_op(struct oracle_pkt *pkt, __u64 i)
{
	struct oracle_op *op = pkt->data + ((sizeof(struct oracle_hdr) + i * sizeof(struct oracle_op)) & ORACLE_OFF_MASK);

	return (void *)(op + 1) > pkt->end ? 0 : op;
}

/* bpf_loop callback: applies op i and writes its outputs into its record. */
static long oracle_apply(__u64 i, void *arg)
{
	struct oracle_run *run = arg;
	struct oracle_pkt pkt = oracle_pkt(run->ctx);
	struct oracle_op *op = oracle_op(&pkt, i);
	void *start = run->place == ORACLE_META ? pkt.meta + (run->at & 3) : pkt.data + (run->at & ORACLE_OFF_MASK);
	void *end = run->place == ORACLE_META ? pkt.data : pkt.end;
	__u8 value[8];
	__u64 key, len;
	int rc;

	if (!op)
		return 1;
	key = op->key;
	len = op->len;
	__builtin_memcpy(value, op->value, 8);
	switch (op->kind) {
	case ORACLE_SET:
		rc = traits_set(start, end, run->profile, key, value, len);
		break;
	case ORACLE_GET:
		rc = traits_get(start, end, run->profile, key, value, len);
		break;
	case ORACLE_DEL:
		rc = traits_del(start, end, run->profile, key);
		break;
	case ORACLE_HAS:
		rc = traits_has(start, end, run->profile, key);
		break;
	default:
		rc = traits_init(start, end);
	}
	op->rc = rc;
	__builtin_memcpy(op->value, value, 8);
	op->size = traits_size(start, end, run->profile);
	if (start + TRAITS_HEADER <= end)
		__builtin_memcpy(op->header, start, TRAITS_HEADER);
	return 0;
}

SEC("xdp")
int traits_oracle(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct oracle_hdr *hdr = data;
	struct oracle_run run = { .ctx = ctx };
	__u32 cap, region, nops, ops_end;

	if ((void *)(hdr + 1) > data_end)
		return XDP_ABORTED;
	run.profile = hdr->profile;
	run.place = hdr->place;
	cap = hdr->cap;
	region = hdr->region;
	nops = hdr->nops;
	ops_end = sizeof(struct oracle_hdr) + nops * sizeof(struct oracle_op);
	if (cap > region || (run.place == ORACLE_META && (region > ORACLE_META_MAX || region % 4 || region - cap > 3)))
		return XDP_ABORTED;
	if (data + ops_end + region != data_end)
		return XDP_ABORTED;
	run.at = run.place == ORACLE_META ? region - cap : ops_end + region - cap;
	if (run.place == ORACLE_META) {
		if (bpf_xdp_adjust_meta(ctx, -(int)region))
			return XDP_ABORTED;
		/* Copy the region (the last `region` bytes of the packet) into the metadata area, 4 bytes at a time. */
		for (__u32 i = 0; i < ORACLE_META_MAX / 4; i++) {
			void *meta = (void *)(long)ctx->data_meta, *pkt = (void *)(long)ctx->data;
			void *pkt_end = (void *)(long)ctx->data_end;
			__u32 *dst = meta + 4 * i, *src;

			if (4 * i >= region)
				break;
			src = pkt + ((ops_end + 4 * i) & ORACLE_OFF_MASK);
			if ((void *)(dst + 1) > pkt || (void *)(src + 1) > pkt_end)
				return XDP_ABORTED;
			*dst = *src;
		}
	}
	bpf_loop(nops, oracle_apply, &run, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
