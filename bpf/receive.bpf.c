// SPDX-License-Identifier: MIT
/*
 * receive.bpf.c - the receive program of `packet-traits xdp capture` and XskSocket: for every packet
 * it makes a 48-byte metadata area holding a traits store (profile v1) and redirects the packet to
 * the AF_XDP socket of its queue (XSKMAP `xsks`), or passes it if no socket is there:
 *   key 0   packet_id         u64  a sequence number from a map counter (0, 1, 2, ... per load)
 *   key 1   timestamp_source  u16  where key 63 came from: 1 the device (bpf_xdp_metadata_rx_timestamp),
 *                                  2 this program's clock (bpf_ktime_get_tai_ns), where the device
 *                                  gives none or gives 0 (veth without hardware timestamps)
 *   key 59  rx_hash           u32  bpf_xdp_metadata_rx_hash: the device's hash (veth: the skb's)
 *   key 60  rss_hash_type     u32  its xdp_rss_hash_type
 *   key 61  vlan_tci          u16  bpf_xdp_metadata_rx_vlan_tag: the tag the device stripped
 *   key 62  vlan_proto        u16  its TPID, in network byte order as on the wire
 *   key 63  rx_timestamp      u64  nanoseconds, CLOCK_TAI (see key 1)
 * The hash and VLAN keys are left out where the device gives none. It calls the rx-metadata kfuncs, so it loads only bound to a device
 * (BpfObject.load with ifindex); XDP_PASS if the metadata area cannot be made.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include "traits.bpf.h"

#define META_BYTES 48

/* The profile and metadata length, for the loaders to check (bpf/traits.bpf.h). */
TRAITS_PROGRAM(TRAITS_V1, META_BYTES);

enum { KEY_PACKET_ID = 0, KEY_TIMESTAMP_SOURCE = 1, KEY_RX_HASH = 59, KEY_RSS_HASH_TYPE = 60, KEY_VLAN_TCI = 61, KEY_VLAN_PROTO = 62, KEY_RX_TIMESTAMP = 63 };
enum xdp_rss_hash_type { XDP_RSS_TYPE_NONE = 0 };

/* Prototypes as in the kernel's BTF (bpftool btf dump file /sys/kernel/btf/vmlinux format c). */
extern int bpf_xdp_metadata_rx_hash(const struct xdp_md *ctx, __u32 *hash, enum xdp_rss_hash_type *rss_type) __ksym;
extern int bpf_xdp_metadata_rx_timestamp(const struct xdp_md *ctx, __u64 *timestamp) __ksym;
extern int bpf_xdp_metadata_rx_vlan_tag(const struct xdp_md *ctx, __be16 *vlan_proto, __u16 *vlan_tci) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} packet_ids SEC(".maps");

SEC("xdp")
int traits_receive(struct xdp_md *ctx)
{
	enum xdp_rss_hash_type type = 0;
	__u64 id, stamp = 0, type64, hash64, source = 1;
	__u32 zero = 0, hash = 0;
	__u64 *next = bpf_map_lookup_elem(&packet_ids, &zero);
	__be16 proto = 0;
	__u16 tci = 0;
	__u64 proto64, tci64;
	int has_hash, has_stamp, has_vlan;
	void *meta, *data;

	if (!next)
		return XDP_PASS;
	has_hash = bpf_xdp_metadata_rx_hash(ctx, &hash, &type) == 0;
	has_vlan = bpf_xdp_metadata_rx_vlan_tag(ctx, &proto, &tci) == 0;
	has_stamp = bpf_xdp_metadata_rx_timestamp(ctx, &stamp) == 0 && stamp != 0;
	if (!has_stamp) {
		stamp = bpf_ktime_get_tai_ns();
		source = 2;
	}
	if (bpf_xdp_adjust_meta(ctx, -META_BYTES))
		return XDP_PASS;
	id = __sync_fetch_and_add(next, 1);
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	type64 = type;
	hash64 = hash;
	proto64 = proto;
	tci64 = tci;
	/* Keys in ascending order (each value goes at the end): at most 16 + 8 + 2 + 4 + 4 + 2 + 2 + 8 = 46 bytes. */
	traits_init(meta, data);
	traits_set(meta, data, TRAITS_V1, KEY_PACKET_ID, &id, 8);
	traits_set(meta, data, TRAITS_V1, KEY_TIMESTAMP_SOURCE, &source, 2);
	if (has_hash) {
		traits_set(meta, data, TRAITS_V1, KEY_RX_HASH, &hash64, 4);
		traits_set(meta, data, TRAITS_V1, KEY_RSS_HASH_TYPE, &type64, 4);
	}
	if (has_vlan) {
		traits_set(meta, data, TRAITS_V1, KEY_VLAN_TCI, &tci64, 2);
		traits_set(meta, data, TRAITS_V1, KEY_VLAN_PROTO, &proto64, 2);
	}
	traits_set(meta, data, TRAITS_V1, KEY_RX_TIMESTAMP, &stamp, 8);
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
