/* Netlink plumbing for the meter's nftables code: the socket, single GET
 * requests, dumps that restart when the ruleset changes under them, and
 * batches whose every message is acknowledged. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>

#include "coopbill/diag.h"
#include "nft-internal.h"

/* The receive buffer: twice what the kernel puts in one dump message. */
#define NFT_RX_SIZE (2 * MNL_SOCKET_DUMP_SIZE)
/* What the socket may queue for us, as skb truesize; at least 64 KiB so that
 * dump messages never overrun it, and room for the pipelined counter reads. */
#define NFT_RCVBUF_BYTES (1024 * 1024)
/* The kernel's cost of one queued ACK (skb truesize), rounded up. */
#define NFT_ACK_TRUESIZE 1024
/* Batches with more messages ask for an ACK on their last message only:
 * ACKing each of 200,000 counter creations would queue 200 MiB. The kernel
 * reports every failing message either way, and applies all or nothing. */
#define NFT_ACK_ALL_MAX 16384
/* Batch pages; a message never grows past the overrun (elements messages
 * stop at 32 KiB). */
#define NFT_BATCH_PAGE	  (256 * 1024)
#define NFT_BATCH_OVERRUN (64 * 1024)
/* A dump that keeps being interrupted by ruleset changes gives up. */
#define NFT_DUMP_ATTEMPTS 16

struct nft_batch {
	struct nft *nft;
	struct nftnl_batch *pages;
	uint32_t begin_seq;
	uint32_t last_msg_seq;
	size_t n_msgs;
	uint32_t next_set_id;
	uint32_t page_len;
};

uint32_t nft_nl_next_seq(struct nft *nft, uint32_t count)
{
	uint32_t seq = nft->seq;

	nft->seq += count;
	/* Sequence 0 switches off libmnl's sequence check. */
	if (nft->seq < seq || seq == 0) {
		nft->seq = 1 + count;
		seq = 1;
	}
	return seq;
}

static int set_buffer(struct nft *nft, int force_opt, int opt, size_t bytes, int *ret_bytes)
{
	int fd = mnl_socket_get_fd(nft->nl);
	int value = bytes / 2 > (size_t)(INT32_MAX / 2) ? INT32_MAX / 2 : (int)((bytes + 1) / 2);
	socklen_t len = sizeof(value);

	/* The kernel doubles the value for its bookkeeping. The forced variant
	 * (CAP_NET_ADMIN, which the daemon has) is not capped by rmem_max. */
	if (setsockopt(fd, SOL_SOCKET, force_opt, &value, sizeof(value)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, opt, &value, sizeof(value)) < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, opt, &value, &len) < 0)
		return -errno;
	*ret_bytes = value;
	return 0;
}

int nft_nl_ensure_rcvbuf(struct nft *nft, size_t bytes)
{
	if ((size_t)nft->rcvbuf_bytes >= bytes)
		return 0;
	return set_buffer(nft, SO_RCVBUFFORCE, SO_RCVBUF, bytes, &nft->rcvbuf_bytes);
}

static int ensure_sndbuf(struct nft *nft, size_t bytes)
{
	if ((size_t)nft->sndbuf_bytes >= bytes)
		return 0;
	return set_buffer(nft, SO_SNDBUFFORCE, SO_SNDBUF, bytes, &nft->sndbuf_bytes);
}

int nft_nl_open(struct nft *nft)
{
	int on = 1;
	int r;

	nft->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nft->nl)
		return -errno;
	if (mnl_socket_bind(nft->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	nft->portid = mnl_socket_get_portid(nft->nl);
	nft->seq = 1 + ((uint32_t)time(NULL) & 0xffffff);

	/* ACKs without a copy of the request, with the kernel's reason. */
	if (mnl_socket_setsockopt(nft->nl, NETLINK_CAP_ACK, &on, sizeof(on)) < 0 ||
	    mnl_socket_setsockopt(nft->nl, NETLINK_EXT_ACK, &on, sizeof(on)) < 0)
		return -errno;
	r = nft_nl_ensure_rcvbuf(nft, NFT_RCVBUF_BYTES);
	if (r < 0)
		return r;
	if (nft->rcvbuf_bytes < 64 * 1024)
		return -ENOBUFS;

	nft->rx_size = NFT_RX_SIZE;
	nft->rx = malloc(nft->rx_size);
	if (!nft->rx)
		return -ENOMEM;
	return 0;
}

void nft_nl_close(struct nft *nft)
{
	if (nft->nl)
		mnl_socket_close(nft->nl);
	nft->nl = NULL;
	free(nft->rx);
	nft->rx = NULL;
}

struct nlmsghdr *nft_nl_put_query(char *buf, const struct nft_query *query, uint16_t flags,
				  uint32_t seq)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, query->type, query->family, flags, seq);

	switch (query->type) {
	case NFT_MSG_GETTABLE:
		if (query->name)
			mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, query->name);
		break;
	case NFT_MSG_GETCHAIN:
		if (query->table)
			mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, query->table);
		break;
	case NFT_MSG_GETRULE:
		if (query->table)
			mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, query->table);
		if (query->name)
			mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, query->name);
		break;
	case NFT_MSG_GETSET:
		if (query->table)
			mnl_attr_put_strz(nlh, NFTA_SET_TABLE, query->table);
		break;
	case NFT_MSG_GETSETELEM:
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, query->table);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, query->name);
		break;
	case NFT_MSG_GETOBJ:
		if (query->table)
			mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, query->table);
		if (query->name)
			mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, query->name);
		if (query->obj_type)
			mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(query->obj_type));
		break;
	default:
		break;
	}
	return nlh;
}

static ssize_t receive(struct nft *nft, int flags)
{
	ssize_t n;

	do
		n = recv(mnl_socket_get_fd(nft->nl), nft->rx, nft->rx_size, flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n;
}

/* Whether the buffer holds the message that ends the reply to seq. */
static bool reply_ends(const void *buf, size_t len, uint32_t seq)
{
	const struct nlmsghdr *nlh = buf;
	int left = (int)len;

	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		if (nlh->nlmsg_seq != seq)
			continue;
		if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR)
			return true;
	}
	return false;
}

/* Reads what is left of a reply after a failure, so that the next request
 * does not see it. */
static void drain(struct nft *nft, uint32_t seq)
{
	for (;;) {
		ssize_t n = receive(nft, 0);

		if (n < 0 || reply_ends(nft->rx, (size_t)n, seq))
			return;
	}
}

static int send_request(struct nft *nft, const struct nlmsghdr *nlh)
{
	if (mnl_socket_sendto(nft->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

/* Runs the reply to one request through cb until its end. Returns 0, a
 * negative errno, or -EINTR when a dump was interrupted. */
static int run_reply(struct nft *nft, uint32_t seq, mnl_cb_t cb, void *data)
{
	for (;;) {
		ssize_t n = receive(nft, 0);
		int r;

		if (n < 0)
			return (int)n;
		r = mnl_cb_run(nft->rx, (size_t)n, seq, nft->portid, cb, data);
		if (r == MNL_CB_STOP)
			return 0;
		if (r < 0) {
			r = errno ? -errno : -EPROTO;
			if (!reply_ends(nft->rx, (size_t)n, seq))
				drain(nft, seq);
			return r;
		}
	}
}

int nft_nl_get(struct nft *nft, const struct nft_query *query, mnl_cb_t cb, void *data)
{
	char buf[512] = { 0 };
	uint32_t seq = nft_nl_next_seq(nft, 1);
	struct nlmsghdr *nlh = nft_nl_put_query(buf, query, NLM_F_ACK, seq);
	int r;

	r = send_request(nft, nlh);
	if (r < 0)
		return r;
	r = run_reply(nft, seq, cb, data);
	/* A plain request is never interrupted; EINTR here is the kernel's. */
	return r;
}

int nft_nl_dump(struct nft *nft, const struct nft_query *query, mnl_cb_t cb, void *data,
		void (*restart)(void *data))
{
	char buf[512] = { 0 };

	for (int attempt = 0; attempt < NFT_DUMP_ATTEMPTS; attempt++) {
		uint32_t seq = nft_nl_next_seq(nft, 1);
		struct nlmsghdr *nlh = nft_nl_put_query(buf, query, NLM_F_DUMP, seq);
		int r;

		if (attempt > 0 && restart)
			restart(data);
		r = send_request(nft, nlh);
		if (r < 0)
			return r;
		/* libmnl reports NLM_F_DUMP_INTR as EINTR: the ruleset changed
		 * during the dump, so what was read may be inconsistent. */
		r = run_reply(nft, seq, cb, data);
		if (r != -EINTR)
			return r;
	}
	/* The ruleset kept changing; the caller may try again later. */
	return -EAGAIN;
}

/* libmnl 1.0.4 leaves attribute padding as it finds it: clear each page
 * once, so that no stale heap bytes go to the kernel. */
static void zero_page(struct nft_batch *batch)
{
	uint32_t len = nftnl_batch_buffer_len(batch->pages);

	memset(nftnl_batch_buffer(batch->pages), 0, NFT_BATCH_PAGE + NFT_BATCH_OVERRUN - len);
	batch->page_len = len;
}

int nft_batch_new(struct nft *nft, uint32_t genid, struct nft_batch **ret_batch)
{
	struct nft_batch *batch;
	struct nlmsghdr *nlh;
	int r = -ENOMEM;

	batch = calloc(1, sizeof(*batch));
	if (!batch)
		return -ENOMEM;
	batch->nft = nft;
	/* The ACK check compares sequence numbers: keep a batch from wrapping. */
	if (nft->seq > UINT32_MAX / 2)
		nft->seq = 1;
	batch->pages = nftnl_batch_alloc(NFT_BATCH_PAGE, NFT_BATCH_OVERRUN);
	if (!batch->pages)
		goto out;
	zero_page(batch);
	batch->begin_seq = nft_nl_next_seq(nft, 1);
	nlh = nftnl_batch_begin(nftnl_batch_buffer(batch->pages), batch->begin_seq);
	if (genid)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	if (nftnl_batch_update(batch->pages) < 0)
		goto out;
	*ret_batch = batch;
	batch = NULL;
	r = 0;
out:
	nft_batch_free(batch);
	return r;
}

void nft_batch_free(struct nft_batch *batch)
{
	if (!batch)
		return;
	if (batch->pages)
		nftnl_batch_free(batch->pages);
	free(batch);
}

struct nlmsghdr *nft_batch_msg(struct nft_batch *batch, uint16_t type, uint16_t flags)
{
	uint32_t seq = nft_nl_next_seq(batch->nft, 1);

	batch->n_msgs++;
	batch->last_msg_seq = seq;
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(batch->pages), type, NFPROTO_INET,
				     flags | NLM_F_ACK, seq);
}

int nft_batch_msg_end(struct nft_batch *batch)
{
	uint32_t len;

	if (nftnl_batch_update(batch->pages) < 0)
		return -ENOMEM;
	/* A shorter page is a new one. */
	len = nftnl_batch_buffer_len(batch->pages);
	if (len < batch->page_len)
		zero_page(batch);
	else
		batch->page_len = len;
	return 0;
}

size_t nft_batch_msg_room(const struct nft_batch *batch, const struct nlmsghdr *nlh)
{
	/* Half the overrun: any message then fits wherever it starts. */
	size_t max = NFT_BATCH_OVERRUN / 2;

	return nlh->nlmsg_len >= max ? 0 : max - nlh->nlmsg_len;
}

uint32_t nft_batch_set_id(struct nft_batch *batch)
{
	return ++batch->next_set_id;
}

struct ack_state {
	uint32_t first_seq;
	uint32_t last_seq;
	uint32_t error_seq;
	int error;
	size_t n_acked;
};

static void log_extack(const struct nlmsghdr *nlh, const struct nlmsgerr *err)
{
	const struct nlattr *attr;
	size_t offset = sizeof(*err);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		offset += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
	mnl_attr_for_each(attr, nlh, offset)
	{
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			diag_debug("nft: kernel refused message %u: %s", nlh->nlmsg_seq,
				   mnl_attr_get_str(attr));
	}
}

static int ack_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ack_state *acks = data;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	if (nlh->nlmsg_seq < acks->first_seq || nlh->nlmsg_seq > acks->last_seq)
		return MNL_CB_OK;
	if (err->error == 0) {
		acks->n_acked++;
		return MNL_CB_OK;
	}
	log_extack(nlh, err);
	if (!acks->error || nlh->nlmsg_seq < acks->error_seq) {
		acks->error = err->error < 0 ? err->error : -err->error;
		acks->error_seq = nlh->nlmsg_seq;
	}
	return MNL_CB_OK;
}

/* Large batches ask for the last message's ACK only (see NFT_ACK_ALL_MAX). */
static void ack_last_only(struct iovec *iov, int n_iov, uint32_t last_seq)
{
	for (int i = 0; i < n_iov; i++) {
		struct nlmsghdr *nlh = iov[i].iov_base;
		int left = (int)iov[i].iov_len;

		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
			if (nlh->nlmsg_seq != last_seq)
				nlh->nlmsg_flags &= ~NLM_F_ACK;
	}
}

static int receive_acks(struct nft *nft, struct ack_state *acks, bool *ret_overrun)
{
	static mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = ack_cb };
	bool overrun = false;

	/* The kernel handles the whole batch inside sendmsg(), so every ACK
	 * is queued by now: read until the socket is empty. */
	for (;;) {
		ssize_t n = receive(nft, MSG_DONTWAIT);

		if (n == -ENOBUFS) {
			overrun = true;
			continue;
		}
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return (int)n;
		if (mnl_cb_run2(nft->rx, (size_t)n, 0, nft->portid, NULL, acks, ctl,
				NLMSG_MIN_TYPE) < 0)
			return errno ? -errno : -EPROTO;
	}
	*ret_overrun = overrun;
	return 0;
}

int nft_batch_commit(struct nft *nft, struct nft_batch *batch)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK };
	struct ack_state acks = { 0 };
	struct iovec *iov = NULL;
	struct msghdr msg = { 0 };
	size_t total = 0, expected;
	bool overrun = false;
	int n_iov, r;

	if (batch->n_msgs == 0)
		return 0;
	nftnl_batch_end(nftnl_batch_buffer(batch->pages), nft_nl_next_seq(nft, 1));
	if (nftnl_batch_update(batch->pages) < 0)
		return -ENOMEM;

	n_iov = nftnl_batch_iovec_len(batch->pages);
	iov = calloc((size_t)n_iov, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	nftnl_batch_iovec(batch->pages, iov, (uint32_t)n_iov);
	for (int i = 0; i < n_iov; i++)
		total += iov[i].iov_len;

	expected = batch->n_msgs;
	if (expected > NFT_ACK_ALL_MAX) {
		ack_last_only(iov, n_iov, batch->last_msg_seq);
		expected = 1;
	}
	r = ensure_sndbuf(nft, total + 4096);
	if (r < 0)
		goto out;
	r = nft_nl_ensure_rcvbuf(nft, (expected + 64) * NFT_ACK_TRUESIZE);
	if (r < 0)
		goto out;

	msg.msg_name = &addr;
	msg.msg_namelen = sizeof(addr);
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)n_iov;
	if (sendmsg(mnl_socket_get_fd(nft->nl), &msg, 0) < 0) {
		r = -errno;
		goto out;
	}

	acks.first_seq = batch->begin_seq;
	acks.last_seq = batch->last_msg_seq + 1;
	r = receive_acks(nft, &acks, &overrun);
	if (r < 0)
		goto out;
	if (acks.error)
		r = acks.error;
	else if (overrun)
		/* ACKs were lost: whether the batch applied is unknown. */
		r = -ENOBUFS;
	else if (acks.n_acked < expected)
		r = -EPROTO;
out:
	free(iov);
	return r;
}
