// SPDX-License-Identifier: MIT
/*
 * example.bpf.c - an XDP program that leaves traits for whoever reads the packet next.
 *
 * For every packet it makes a 40-byte metadata area holding a traits store (profile v1) with the
 * keys `packet-traits pcap annotate` uses, so that `pcap show` and the library name them:
 *   key 0   packet_id      u64  a sequence number from a map counter (0, 1, 2, ... per load)
 *   key 59  rx_hash        u32  the Toeplitz hash with the common default key, as a NIC computes
 *                              it: addresses, and ports for TCP and UDP (unfragmented IPv4, IPv6
 *                              without extension headers); 0 for other packets
 *   key 60  rss_hash_type  u32  its xdp_rss_hash_type (25 IPv4/TCP, 41 IPv4/UDP, 1 IPv4,
 *                              26 IPv6/TCP, 42 IPv6/UDP, 2 IPv6; 0 for other packets)
 *   key 61  vlan_tci       u16  the first VLAN tag's TCI, if the frame has one
 *   key 62  vlan_proto     u16  its TPID (0x8100 or 0x88a8), in network byte order as on the wire
 * (keys 59..63 are the library's hardware keys in placement "keys"). It returns XDP_PASS, or
 * XDP_ABORTED if the metadata area cannot be made. It uses no rx-metadata kfunc, so that
 * BPF_PROG_TEST_RUN can run it (a device-bound program cannot be test-run).
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "traits.bpf.h"

#define META_BYTES 40

/* The profile and metadata length, for the loaders to check (bpf/traits.bpf.h). */
TRAITS_PROGRAM(TRAITS_V1, META_BYTES);

enum { KEY_PACKET_ID = 0, KEY_RX_HASH = 59, KEY_RSS_HASH_TYPE = 60, KEY_VLAN_TCI = 61, KEY_VLAN_PROTO = 62 };
/* xdp_rss_hash_type bits (include/net/xdp.h). */
enum { RSS_L3_IPV4 = 1, RSS_L3_IPV6 = 2, RSS_L4 = 8, RSS_L4_TCP = 16, RSS_L4_UDP = 32 };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} packet_ids SEC(".maps");

/* The Microsoft RSS verification key, the default of most NICs. */
static const __u8 rss_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* What the program learns from the packet. */
struct rx_info {
	__u32 hash, type;
	__u16 vlan_tci, vlan_proto; /* vlan_proto as on the wire; 0 if untagged */
	__u8 tuple[36];             /* source and destination address, then the ports */
	__u32 tuple_len;
};

/* The Toeplitz hash of the first `len` (at most 36) bytes of `in`: each set input bit, from the most significant, XORs in the 32 key bits at its position. */
static __always_inline __u32 toeplitz(const __u8 *in, __u32 len)
{
	__u32 hash = 0;

	for (__u32 i = 0; i < 36; i++) {
		__u64 window;

		if (i >= len)
			break;
		window = (__u64)rss_key[i] << 32 | (__u64)rss_key[i + 1] << 24 | (__u64)rss_key[i + 2] << 16 | (__u64)rss_key[i + 3] << 8 | rss_key[i + 4];
		for (int bit = 0; bit < 8; bit++)
			hash ^= (__u32)(window >> (8 - bit)) & (0U - ((in[i] >> (7 - bit)) & 1));
	}
	return hash;
}

/* Copies `n` (a constant) packet bytes at `p` into the tuple; 0, or -1 if they run past `end`. */
static __always_inline int take(struct rx_info *rx, __u32 at, void *p, __u32 n, void *end)
{
	if (p + n > end || at + n > sizeof(rx->tuple))
		return -1;
	__builtin_memcpy(rx->tuple + at, p, n);
	return 0;
}

/* Parses Ethernet, up to two VLAN tags, and IPv4 or IPv6 far enough to hash the packet, as `pcap annotate` does. */
static __always_inline void parse(struct xdp_md *ctx, struct rx_info *rx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	void *at = data + 14;
	__u16 proto;

	if (at > end)
		return;
	proto = *(__u16 *)(data + 12);
	for (int tags = 0; tags < 2; tags++) {
		if (proto != bpf_htons(0x8100) && proto != bpf_htons(0x88a8))
			break;
		if (at + 4 > end)
			break;
		if (!rx->vlan_proto) {
			rx->vlan_proto = proto;
			rx->vlan_tci = bpf_ntohs(*(__u16 *)at);
		}
		proto = *(__u16 *)(at + 2);
		at += 4;
	}
	if (proto == bpf_htons(0x0800)) {
		__u8 *ip = at;
		__u32 ihl;

		if (at + 20 > end)
			return;
		ihl = (ip[0] & 0x0f) * 4;
		if (take(rx, 0, ip + 12, 8, end))
			return;
		rx->tuple_len = 8;
		rx->type = RSS_L3_IPV4;
		if (ihl >= 20 && !(bpf_ntohs(*(__u16 *)(ip + 6)) & 0x3fff) && (ip[9] == 6 || ip[9] == 17) && !take(rx, 8, at + (ihl & 63), 4, end)) {
			rx->tuple_len = 12;
			rx->type |= RSS_L4 | (ip[9] == 6 ? RSS_L4_TCP : RSS_L4_UDP);
		}
	} else if (proto == bpf_htons(0x86dd)) {
		__u8 *ip = at;

		if (at + 40 > end || take(rx, 0, ip + 8, 32, end))
			return;
		rx->tuple_len = 32;
		rx->type = RSS_L3_IPV6;
		if ((ip[6] == 6 || ip[6] == 17) && !take(rx, 32, at + 40, 4, end)) {
			rx->tuple_len = 36;
			rx->type |= RSS_L4 | (ip[6] == 6 ? RSS_L4_TCP : RSS_L4_UDP);
		}
	}
	rx->hash = rx->tuple_len ? toeplitz(rx->tuple, rx->tuple_len) : 0;
}

SEC("xdp")
int traits_example(struct xdp_md *ctx)
{
	struct rx_info rx = {};
	__u32 zero = 0;
	__u64 *next = bpf_map_lookup_elem(&packet_ids, &zero), id;
	void *meta, *data;

	if (!next)
		return XDP_ABORTED;
	id = __sync_fetch_and_add(next, 1);
	parse(ctx, &rx);
	if (bpf_xdp_adjust_meta(ctx, -META_BYTES))
		return XDP_ABORTED;
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	/* Keys in ascending order: each value goes at the end, nothing moves. 36 bytes fit in 40. */
	traits_init(meta, data);
	traits_set(meta, data, TRAITS_V1, KEY_PACKET_ID, &id, 8);
	traits_set(meta, data, TRAITS_V1, KEY_RX_HASH, &rx.hash, 4);
	traits_set(meta, data, TRAITS_V1, KEY_RSS_HASH_TYPE, &rx.type, 4);
	if (rx.vlan_proto) {
		traits_set(meta, data, TRAITS_V1, KEY_VLAN_TCI, &rx.vlan_tci, 2);
		traits_set(meta, data, TRAITS_V1, KEY_VLAN_PROTO, &rx.vlan_proto, 2);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
