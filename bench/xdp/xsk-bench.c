// SPDX-License-Identifier: MIT
/*
 * xsk-bench.c - the C anchors of `npm run bench -- --xdp`, on libxdp's xsk API as a careful C programmer
 * writes them (xdpsock's design): a thread per queue, each with its own UMEM of 4096 frames of 2048 bytes
 * and rings of 4096, copy mode with need-wakeup, busy polling (no poll(): a syscall only when the kernel
 * asks for one). The XDP program is loaded bound to the device (its rx-metadata kfuncs need that), every
 * socket goes into its XSKMAP `xsks`, and it is attached once through a BPF link.
 *
 *   xsk-bench rx    IF PROG.o QUEUES SECONDS META_LEN        reads key 0 of each packet's store
 *   xsk-bench l2fwd IF PROG.o QUEUES SECONDS META_LEN DENY   reads keys 2 (tenant) and 59 (rx hash), drops
 *                                                            packets without a tenant or of tenant DENY,
 *                                                            sums the hashes, swaps the Ethernet addresses
 *                                                            of the rest and transmits them from the same
 *                                                            frames (xdpsock -l), as examples/forwarder does
 * Prints "ready" once attached, starts counting at a line on stdin, prints one JSON line SECONDS later:
 * {"pps": total packets/s received, "perQueue": [...], "checksum": ...}.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#define FRAMES 4096
#define FRAME_SIZE 2048
#define RING 4096
#define BATCH 256
#define MAX_QUEUES 64
#ifndef BPF_F_XDP_DEV_BOUND_ONLY
#define BPF_F_XDP_DEV_BOUND_ONLY (1U << 6)
#endif

struct queue {
	int id;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons completion, rx;
	void *area;
	uint32_t in_flight;
	_Atomic uint64_t received;
	uint64_t checksum;
	pthread_t thread;
};

static struct queue queues[MAX_QUEUES];
static int forward, meta_len, deny;
static atomic_int stop;

static void die(const char *what, int err)
{
	fprintf(stderr, "xsk-bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* The value of `key` in the store at `s` (profile v1: high word at 0, low at 8; codes 01/10/11 = 2/4/8
 * bytes), or -1 if absent: the offset is popcount math on the masked words, as the library computes it. */
static inline int64_t trait_get(const uint8_t *s, unsigned key)
{
	uint64_t high, low, below = (1ULL << key) - 1, value = 0;

	memcpy(&high, s, 8);
	memcpy(&low, s + 8, 8);
	unsigned code = (unsigned)((high >> key) & 1) << 1 | (unsigned)((low >> key) & 1);
	if (!code)
		return -1;
	unsigned at = 16 + 2 * __builtin_popcountll(low & ~high & below) + 4 * __builtin_popcountll(high & below) +
		      4 * __builtin_popcountll(high & low & below);
	memcpy(&value, s + at, code == 1 ? 2 : code == 2 ? 4 : 8);
	return (int64_t)value;
}

static void fill_all(struct queue *q)
{
	uint32_t at;

	if (xsk_ring_prod__reserve(&q->fill, RING, &at) != RING)
		die("filling the fill ring", EINVAL);
	for (uint32_t i = 0; i < RING; i++)
		*xsk_ring_prod__fill_addr(&q->fill, at + i) = (uint64_t)i * FRAME_SIZE;
	xsk_ring_prod__submit(&q->fill, RING);
}

static void setup(struct queue *q, const char *ifname)
{
	struct xsk_umem_config umem = {
		.fill_size = RING, .comp_size = RING, .frame_size = FRAME_SIZE, .frame_headroom = 0, .flags = 0};
	struct xsk_socket_config config = {.rx_size = RING,
					   .tx_size = RING,
					   .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
					   .bind_flags = XDP_COPY | XDP_USE_NEED_WAKEUP};
	int err;

	q->area = mmap(NULL, (size_t)FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q->area == MAP_FAILED)
		die("mmap", errno);
	err = xsk_umem__create(&q->umem, q->area, (uint64_t)FRAMES * FRAME_SIZE, &q->fill, &q->completion, &umem);
	if (err)
		die("xsk_umem__create", err);
	err = xsk_socket__create(&q->xsk, ifname, q->id, q->umem, &q->rx, &q->tx, &config);
	if (err)
		die("xsk_socket__create", err);
	fill_all(q);
}

/* Frames back from the completion ring to the fill ring. */
static void complete(struct queue *q)
{
	uint32_t at, back, n;

	if (!q->in_flight)
		return;
	if (xsk_ring_prod__needs_wakeup(&q->tx))
		sendto(xsk_socket__fd(q->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0);
	n = xsk_ring_cons__peek(&q->completion, BATCH, &at);
	if (!n)
		return;
	while (xsk_ring_prod__reserve(&q->fill, n, &back) != n)
		;
	for (uint32_t i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&q->fill, back + i) = *xsk_ring_cons__comp_addr(&q->completion, at + i);
	xsk_ring_prod__submit(&q->fill, n);
	xsk_ring_cons__release(&q->completion, n);
	q->in_flight -= n;
}

static void *serve(void *arg)
{
	struct queue *q = arg;
	uint8_t *area = q->area;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint32_t at, n, back, sent = 0, kept = 0, fat, txat;
		uint64_t drop[BATCH];

		complete(q);
		n = xsk_ring_cons__peek(&q->rx, BATCH, &at);
		if (!n) {
			if (xsk_ring_prod__needs_wakeup(&q->fill))
				recvfrom(xsk_socket__fd(q->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
			continue;
		}
		if (!forward) {
			while (xsk_ring_prod__reserve(&q->fill, n, &back) != n)
				;
			for (uint32_t i = 0; i < n; i++) {
				const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, at + i);
				q->checksum += (uint64_t)trait_get(area + d->addr - meta_len, 0);
				*xsk_ring_prod__fill_addr(&q->fill, back + i) = xsk_umem__extract_addr(d->addr);
			}
			xsk_ring_prod__submit(&q->fill, n);
		} else {
			uint64_t out[BATCH];
			uint32_t lens[BATCH];
			for (uint32_t i = 0; i < n; i++) {
				const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, at + i);
				uint8_t *pkt = area + d->addr;
				int64_t tenant = trait_get(pkt - meta_len, 2), hash = trait_get(pkt - meta_len, 59);
				if (tenant < 0 || tenant == deny) {
					drop[kept++] = xsk_umem__extract_addr(d->addr);
					continue;
				}
				if (hash >= 0)
					q->checksum += (uint64_t)hash;
				uint8_t mac[6];
				memcpy(mac, pkt, 6);
				memcpy(pkt, pkt + 6, 6);
				memcpy(pkt + 6, mac, 6);
				out[sent] = d->addr;
				lens[sent++] = d->len;
			}
			if (kept) {
				while (xsk_ring_prod__reserve(&q->fill, kept, &fat) != kept)
					;
				for (uint32_t i = 0; i < kept; i++)
					*xsk_ring_prod__fill_addr(&q->fill, fat + i) = drop[i];
				xsk_ring_prod__submit(&q->fill, kept);
			}
			if (sent) {
				while (xsk_ring_prod__reserve(&q->tx, sent, &txat) != sent)
					complete(q);
				for (uint32_t i = 0; i < sent; i++) {
					struct xdp_desc *t = xsk_ring_prod__tx_desc(&q->tx, txat + i);
					t->addr = out[i];
					t->len = lens[i];
				}
				xsk_ring_prod__submit(&q->tx, sent);
				q->in_flight += sent;
			}
		}
		xsk_ring_cons__release(&q->rx, n);
		atomic_fetch_add_explicit(&q->received, n, memory_order_relaxed);
	}
	return NULL;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 7 || (strcmp(argv[1], "rx") && strcmp(argv[1], "l2fwd"))) {
		fprintf(stderr, "usage: xsk-bench rx|l2fwd IF PROG.o QUEUES SECONDS META_LEN [DENY]\n");
		return 2;
	}
	const char *ifname = argv[2];
	int nq = atoi(argv[4]), ifindex = (int)if_nametoindex(ifname);
	double seconds = atof(argv[5]);
	forward = !strcmp(argv[1], "l2fwd");
	meta_len = atoi(argv[6]);
	deny = argc > 7 ? atoi(argv[7]) : -1;
	if (!ifindex || nq < 1 || nq > MAX_QUEUES)
		die("interface or queues", EINVAL);
	libbpf_set_print(NULL);

	struct bpf_object *obj = bpf_object__open_file(argv[3], NULL);
	struct bpf_program *prog;
	if (!obj)
		die("opening the program", errno);
	bpf_object__for_each_program(prog, obj)
	{
		bpf_program__set_ifindex(prog, ifindex);
		bpf_program__set_flags(prog, BPF_F_XDP_DEV_BOUND_ONLY);
	}
	if (bpf_object__load(obj))
		die("loading the program", errno);
	int map = bpf_object__find_map_fd_by_name(obj, "xsks");
	for (int i = 0; i < nq; i++) {
		queues[i].id = i;
		setup(&queues[i], ifname);
		int fd = xsk_socket__fd(queues[i].xsk);
		if (bpf_map_update_elem(map, &i, &fd, 0))
			die("the XSKMAP", errno);
	}
	prog = bpf_object__next_program(obj, NULL);
	struct bpf_link *link = bpf_program__attach_xdp(prog, ifindex);
	if (!link)
		die("attaching", errno);
	for (int i = 0; i < nq; i++)
		pthread_create(&queues[i].thread, NULL, serve, &queues[i]);
	printf("ready\n");
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;
	uint64_t before[MAX_QUEUES], total = 0;
	for (int i = 0; i < nq; i++)
		before[i] = atomic_load(&queues[i].received);
	double t0 = now();
	usleep((useconds_t)(seconds * 1e6));
	double elapsed = now() - t0;
	printf("{\"perQueue\": [");
	uint64_t checksum = 0;
	for (int i = 0; i < nq; i++) {
		uint64_t n = atomic_load(&queues[i].received) - before[i];
		total += n;
		printf("%s%.0f", i ? ", " : "", n / elapsed);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < nq; i++) {
		pthread_join(queues[i].thread, NULL);
		checksum += queues[i].checksum;
	}
	printf("], \"pps\": %.0f, \"checksum\": \"%llu\"}\n", total / elapsed, (unsigned long long)checksum);
	bpf_link__destroy(link);
	for (int i = 0; i < nq; i++) {
		xsk_socket__delete(queues[i].xsk);
		xsk_umem__delete(queues[i].umem);
	}
	bpf_object__close(obj);
	return 0;
}
