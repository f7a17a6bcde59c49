// SPDX-License-Identifier: MIT
/* gen.bpf.c - the traffic generator of `npm run bench -- --xdp`: run with BPF_PROG_TEST_RUN in live-frames
 * mode on the sending end of the veth pair, it transmits the given UDP packet (XDP_TX), rotating the
 * destination port over 4 flows. (Debian's xdp-trafficgen fails on this kernel: see BENCHMARKS.md.) */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

__u32 sent = 0;

SEC("xdp")
int gen(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 n = sent++; /* one generator thread: no atomics needed */

	if (data + 42 > end)
		return XDP_ABORTED;
	data[37] = 0x28 + (n & 3); /* UDP destination port 9000 + n % 4 (0x2328 is 9000) */
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
