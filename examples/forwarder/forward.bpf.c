// SPDX-License-Identifier: MIT
/*
 * forward.bpf.c - the XDP program of the reference forwarder (examples/forwarder): for every packet it
 * makes a 32-byte metadata area holding a traits store (profile v1) and redirects the packet to the
 * AF_XDP socket of its queue (XSKMAP `xsks`), or passes it if no socket is there:
 *   key 2   tenant   u16  the UDP destination port of an IPv4 datagram (the service a tenant was
 *                         given); left out for anything else
 *   key 59  rx_hash  u32  bpf_xdp_metadata_rx_hash: the device's flow hash; left out where it gives none
 * The forwarder drops by the tenant, accounts flows by the hash, and sends the rest back.
 * It calls an rx-metadata kfunc, so it loads only bound to a device.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "../../bpf/traits.bpf.h"

#define META_BYTES 32

TRAITS_PROGRAM(TRAITS_V1, META_BYTES);

enum { KEY_TENANT = 2, KEY_RX_HASH = 59 };
enum xdp_rss_hash_type { XDP_RSS_TYPE_NONE = 0 };
extern int bpf_xdp_metadata_rx_hash(const struct xdp_md *ctx, __u32 *hash, enum xdp_rss_hash_type *rss_type) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

SEC("xdp")
int forward(struct xdp_md *ctx)
{
	enum xdp_rss_hash_type type = 0;
	__u64 tenant = 0, hash64;
	__u32 hash = 0;
	int has_hash, has_tenant = 0;
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end, *meta;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = data + sizeof(*eth) + sizeof(*ip);

	if ((void *)(udp + 1) <= end && eth->h_proto == bpf_htons(ETH_P_IP) && ip->ihl == 5 &&
	    ip->protocol == IPPROTO_UDP) {
		tenant = bpf_ntohs(udp->dest);
		has_tenant = 1;
	}
	has_hash = bpf_xdp_metadata_rx_hash(ctx, &hash, &type) == 0;
	if (bpf_xdp_adjust_meta(ctx, -META_BYTES))
		return XDP_PASS;
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	hash64 = hash;
	traits_init(meta, data);
	if (has_tenant)
		traits_set(meta, data, TRAITS_V1, KEY_TENANT, &tenant, 2);
	if (has_hash)
		traits_set(meta, data, TRAITS_V1, KEY_RX_HASH, &hash64, 4);
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
