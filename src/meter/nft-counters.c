/* The households' named counters: their names ("up_<id>", "down_<id>", and
 * with uplinks "lup_<id>", "ldown_<id>"),
 * the batch messages that create and delete them, and the two ways to read
 * them: a dump of the table's objects, and pipelined single GET requests on
 * one reader thread per CPU, whose cost stays linear where the kernel's
 * object dump does not. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/common.h>

#include "nft-internal.h"

/* GET requests sent at once. Their replies wait in the socket's receive
 * buffer (about 1 KiB of truesize each) until read. */
#define NFT_GET_WINDOW	      256
#define NFT_GET_REPLY_BYTES   1024
#define NFT_GET_REQUEST_BYTES 128
/* One reply datagram: a counter object or an error, both well under this. */
#define NFT_GET_RX_BYTES 512
/* Readers in parallel, one per CPU, each with enough requests to be worth
 * a thread. */
#define NFT_GET_READERS_MAX    4
#define NFT_GET_PER_READER_MIN 8192

static const char *const kind_prefix[NFT_KINDS] = {
	[NFT_KIND(NFT_INTERNET, NFT_UP)] = "up_",
	[NFT_KIND(NFT_INTERNET, NFT_DOWN)] = "down_",
	[NFT_KIND(NFT_LOCAL, NFT_UP)] = "lup_",
	[NFT_KIND(NFT_LOCAL, NFT_DOWN)] = "ldown_",
};

void nft_counter_name(int64_t id, unsigned kind, char ret_name[NFT_OBJ_NAME_MAX])
{
	snprintf(ret_name, NFT_OBJ_NAME_MAX, "%s%" PRId64, kind_prefix[kind], id);
}

/* Exactly what nft_counter_name() prints: no sign, no leading zeros. */
bool nft_counter_name_parse(const char *name, int64_t *ret_id, unsigned *ret_kind)
{
	const char *digits = NULL;
	unsigned kind = 0;
	int64_t id = 0;

	for (; kind < NFT_KINDS; kind++) {
		size_t len = strlen(kind_prefix[kind]);

		if (strncmp(name, kind_prefix[kind], len) == 0) {
			digits = name + len;
			break;
		}
	}
	if (!digits)
		return false;
	if (*digits == '\0' || (digits[0] == '0' && digits[1] != '\0'))
		return false;
	for (const char *p = digits; *p; p++) {
		if (*p < '0' || *p > '9' || id > (INT64_MAX - (*p - '0')) / 10)
			return false;
		id = id * 10 + (*p - '0');
	}
	*ret_id = id;
	*ret_kind = kind;
	return true;
}

/* Without NLM_F_EXCL an existing counter is left as it is, value and
 * handle: the kernel's counter objects have nothing to update. */
int nft_counter_add(struct nft_batch *batch, const char *table, int64_t id, unsigned kind)
{
	char name[NFT_OBJ_NAME_MAX];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	nft_counter_name(id, kind, name);
	nlh = nft_batch_msg(batch, NFT_MSG_NEWOBJ, NLM_F_CREATE);
	mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, name);
	mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
	nest = mnl_attr_nest_start(nlh, NFTA_OBJ_DATA);
	mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, 0);
	mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, 0);
	mnl_attr_nest_end(nlh, nest);
	return nft_batch_msg_end(batch);
}

int nft_counter_delete(struct nft_batch *batch, const char *table, int64_t id, unsigned kind)
{
	char name[NFT_OBJ_NAME_MAX];
	struct nlmsghdr *nlh;

	nft_counter_name(id, kind, name);
	nlh = nft_batch_msg(batch, NFT_MSG_DELOBJ, 0);
	mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, name);
	mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
	return nft_batch_msg_end(batch);
}

int nft_object_delete(struct nft_batch *batch, const char *table, uint32_t obj_type,
		      uint64_t handle)
{
	struct nlmsghdr *nlh = nft_batch_msg(batch, NFT_MSG_DELOBJ, 0);

	mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, table);
	mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(obj_type));
	mnl_attr_put_u64(nlh, NFTA_OBJ_HANDLE, htobe64(handle));
	return nft_batch_msg_end(batch);
}

static int parse_counter_data(const struct nlattr *nest, struct nft_object *obj)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, nest)
	{
		uint16_t type = mnl_attr_get_type(attr);

		if (type != NFTA_COUNTER_BYTES && type != NFTA_COUNTER_PACKETS)
			continue;
		if (mnl_attr_validate(attr, MNL_TYPE_U64) < 0)
			return -EPROTO;
		if (type == NFTA_COUNTER_BYTES)
			obj->bytes = be64toh(mnl_attr_get_u64(attr));
		else
			obj->packets = be64toh(mnl_attr_get_u64(attr));
	}
	return 0;
}

/* Parses one object message; only objects of the given table count. */
static int parse_object(const struct nlmsghdr *nlh, const char *table, struct nft_object *ret_obj)
{
	const struct nlattr *attr, *obj_data = NULL;
	struct nft_object obj = { 0 };
	const char *name = NULL, *obj_table = NULL;
	bool have_type = false, have_handle = false;
	int r;

	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg))
	{
		switch (mnl_attr_get_type(attr)) {
		case NFTA_OBJ_TABLE:
			if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
				return -EPROTO;
			obj_table = mnl_attr_get_str(attr);
			break;
		case NFTA_OBJ_NAME:
			if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
				return -EPROTO;
			name = mnl_attr_get_str(attr);
			break;
		case NFTA_OBJ_TYPE:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
				return -EPROTO;
			obj.type = ntohl(mnl_attr_get_u32(attr));
			have_type = true;
			break;
		case NFTA_OBJ_HANDLE:
			if (mnl_attr_validate(attr, MNL_TYPE_U64) < 0)
				return -EPROTO;
			obj.handle = be64toh(mnl_attr_get_u64(attr));
			have_handle = true;
			break;
		case NFTA_OBJ_DATA:
			obj_data = attr;
			break;
		default:
			break;
		}
	}
	if (!name || !obj_table || !have_type || !have_handle)
		return -EPROTO;
	if (strcmp(obj_table, table) != 0)
		return -ENOENT;
	if (obj.type == NFT_OBJECT_COUNTER) {
		if (!obj_data)
			return -EPROTO;
		r = parse_counter_data(obj_data, &obj);
		if (r < 0)
			return r;
		obj.ours = nft_counter_name_parse(name, &obj.id, &obj.kind);
	}
	*ret_obj = obj;
	return 0;
}

struct objects_ctx {
	const char *table;
	struct nft_object *objects;
	size_t n;
	size_t cap;
};

static int object_cb(const struct nlmsghdr *nlh, void *data)
{
	struct objects_ctx *ctx = data;
	struct nft_object obj;
	int r;

	r = parse_object(nlh, ctx->table, &obj);
	if (r == -ENOENT)
		return MNL_CB_OK;
	if (r < 0) {
		errno = -r;
		return MNL_CB_ERROR;
	}
	if (ctx->n == ctx->cap) {
		size_t cap = ctx->cap ? 2 * ctx->cap : 1024;
		struct nft_object *grown = realloc(ctx->objects, cap * sizeof(*grown));

		if (!grown) {
			errno = ENOMEM;
			return MNL_CB_ERROR;
		}
		ctx->objects = grown;
		ctx->cap = cap;
	}
	ctx->objects[ctx->n++] = obj;
	return MNL_CB_OK;
}

static void objects_restart(void *data)
{
	((struct objects_ctx *)data)->n = 0;
}

int nft_objects_dump(struct nft *nft, uint32_t obj_type, struct nft_object **ret_objects,
		     size_t *ret_n_objects)
{
	/* Filtered in the kernel by table and type, as "nft list counters
	 * table inet coopbill" asks. */
	struct nft_query query = { .type = NFT_MSG_GETOBJ,
				   .family = NFPROTO_INET,
				   .table = nft->table,
				   .obj_type = obj_type };
	struct objects_ctx ctx = { .table = nft->table };
	int r;

	r = nft_nl_dump(nft, &query, object_cb, &ctx, objects_restart);
	if (r < 0) {
		free(ctx.objects);
		return r;
	}
	*ret_objects = ctx.objects;
	*ret_n_objects = ctx.n;
	return 0;
}

struct get_reply {
	const char *table;
	struct nft_counter *counter;
};

static int get_reply_cb(const struct nlmsghdr *nlh, void *data)
{
	struct get_reply *reply = data;
	struct nft_object obj;
	int r;

	r = parse_object(nlh, reply->table, &obj);
	if (r == 0 && (obj.type != NFT_OBJECT_COUNTER || !obj.ours ||
		       obj.id != reply->counter->household_id ||
		       obj.kind != NFT_KIND(reply->counter->scope, reply->counter->direction)))
		r = -EPROTO;
	if (r < 0) {
		errno = -r;
		return MNL_CB_ERROR;
	}
	reply->counter->handle = obj.handle;
	reply->counter->bytes = obj.bytes;
	reply->counter->packets = obj.packets;
	return MNL_CB_OK;
}

/* The split read: a dump from the start of the kernel's object list, and
 * pipelined GETs from the end of the daemon's list on another CPU, until
 * between them every counter is read. The dump is cheap while it is short
 * (its cost grows with the square of how far it gets); a GET costs the same
 * wherever its counter is. Past NFT_DUMP_MAX_COUNTERS objects the dump stops
 * and its CPU asks with GETs too, from the start up. Each counter's slot
 * (kinds per household: up, down, and with uplinks local up, local down)
 * goes to whichever reader reads it first. */
struct split {
	const char *table;
	const struct nft_model *model;
	unsigned kinds;
	struct nft_counter *slots;
	atomic_uchar *taken;
	atomic_size_t remaining;
	/* The dump saw every counter there is: the ones nobody read are gone. */
	atomic_bool dump_complete;
	bool dump_stopped;
	size_t dumped; /* objects the dump has seen */
	int dump_result;
};

/* Gives a counter's slot to the first reader; absent counters keep a zero
 * household id. */
static void split_take(struct split *split, size_t slot, const struct nft_counter *counter)
{
	if (atomic_exchange(&split->taken[slot], 1))
		return;
	if (counter)
		split->slots[slot] = *counter;
	atomic_fetch_sub(&split->remaining, 1);
}

/* One reader: a socket of its own and either a slice of the requests (kinds
 * per household), whose counters it writes to out[first...], or, in a split
 * read, requests taken from the end down. */
struct getter {
	struct mnl_socket *nl;
	bool own_socket;
	uint32_t portid;
	uint32_t seq;
	size_t window;
	unsigned kinds;
	const char *table;
	const struct nft_entry *entries;
	size_t first;
	size_t count;
	struct nft_counter *out;
	size_t n_out;
	struct split *split;
	/* split: the requests still to ask for are those below cursor, taken
	 * from the end down, or, ascending, those from cursor up to count */
	size_t cursor;
	bool ascending;
	int result;
	size_t requests[NFT_GET_WINDOW];
	struct mmsghdr msgs[NFT_GET_WINDOW];
	struct iovec iov[NFT_GET_WINDOW];
	uint8_t rx[NFT_GET_WINDOW][NFT_GET_RX_BYTES];
	char tx[NFT_GET_WINDOW * NFT_GET_REQUEST_BYTES];
};

static void discard_pending(struct getter *g)
{
	uint8_t buf[NFT_GET_RX_BYTES];

	while (recv(mnl_socket_get_fd(g->nl), buf, sizeof(buf), MSG_DONTWAIT) >= 0 ||
	       errno == ENOBUFS || errno == EINTR)
		;
}

/* Asks for the counters of g->requests[0...count), and appends the ones that
 * exist to g->out (or, in a split read, takes their slots). */
static int get_window(struct getter *g, size_t count)
{
	uint32_t seq = g->seq;
	size_t tx_len = 0, received = 0, n = g->n_out;

	g->seq += (uint32_t)count;
	for (size_t k = 0; k < count; k++) {
		size_t request = g->requests[k];
		char name[NFT_OBJ_NAME_MAX];
		struct nft_query query = { .type = NFT_MSG_GETOBJ,
					   .family = NFPROTO_INET,
					   .table = g->table,
					   .name = name,
					   .obj_type = NFT_OBJECT_COUNTER };
		struct nlmsghdr *nlh;

		nft_counter_name(g->entries[request / g->kinds].id, (unsigned)(request % g->kinds),
				 name);
		nlh = nft_nl_put_query(g->tx + tx_len, &query, 0, seq + (uint32_t)k);
		tx_len += nlh->nlmsg_len;
	}
	/* The kernel answers every request inside this call. */
	if (mnl_socket_sendto(g->nl, g->tx, tx_len) < 0)
		return -errno;

	while (received < count) {
		int m = recvmmsg(mnl_socket_get_fd(g->nl), g->msgs, (unsigned)(count - received),
				 MSG_DONTWAIT, NULL);

		if (m < 0 && errno == EINTR)
			continue;
		if (m < 0)
			return errno == EAGAIN ? -EPROTO : -errno;
		for (int j = 0; j < m; j++, received++) {
			size_t request = g->requests[received];
			struct nft_counter read = { 0 };
			struct nft_counter *counter = g->split ? &read : &g->out[n];
			struct get_reply reply = { .table = g->table, .counter = counter };
			int r;

			if (g->msgs[j].msg_hdr.msg_flags & MSG_TRUNC)
				return -EPROTO;
			*counter = (struct nft_counter){
				.household_id = g->entries[request / g->kinds].id,
				.scope = (enum nft_scope)(request % g->kinds / 2),
				.direction = (enum nft_direction)(request % 2),
			};
			r = mnl_cb_run(g->rx[j], g->msgs[j].msg_len, seq + (uint32_t)received,
				       g->portid, get_reply_cb, &reply);
			/* ENOENT: deleted behind the daemon's back, it has no value. */
			if (r < 0 && errno != ENOENT)
				return errno ? -errno : -EPROTO;
			if (g->split)
				split_take(g->split, request, r < 0 ? NULL : &read);
			else if (r >= 0)
				n++;
		}
	}
	g->n_out = n;
	return 0;
}

/* The next requests to ask for, at most window: the slice's next ones, or,
 * in a split read, the highest ones nobody has read yet. */
static size_t next_requests(struct getter *g, size_t done, size_t window)
{
	size_t count = 0;

	if (!g->split) {
		for (; count < window && done + count < g->count; count++)
			g->requests[count] = g->first + done + count;
		return count;
	}
	if (atomic_load(&g->split->remaining) == 0 || atomic_load(&g->split->dump_complete))
		return 0;
	while (count < window && (g->ascending ? g->cursor < g->count : g->cursor > 0)) {
		size_t request = g->ascending ? g->cursor++ : --g->cursor;

		if (!atomic_load(&g->split->taken[request]))
			g->requests[count++] = request;
	}
	return count;
}

static void *getter_run(void *data)
{
	struct getter *g = data;
	size_t done = 0, window = g->window, count;
	int overruns = 0;

	for (size_t j = 0; j < NFT_GET_WINDOW; j++) {
		g->iov[j] = (struct iovec){ .iov_base = g->rx[j], .iov_len = NFT_GET_RX_BYTES };
		g->msgs[j].msg_hdr.msg_iov = &g->iov[j];
		g->msgs[j].msg_hdr.msg_iovlen = 1;
	}
	g->result = 0;
	while ((count = next_requests(g, done, window)) > 0) {
		size_t n_before = g->n_out;
		int r;

		r = get_window(g, count);
		if (r == -ENOBUFS && overruns++ < 8 && window > 1) {
			/* Replies were dropped: ask again, fewer at a time. */
			discard_pending(g);
			g->n_out = n_before;
			if (g->split)
				g->cursor = g->requests[0] + (g->ascending ? 0 : 1);
			window /= 2;
			continue;
		}
		if (r < 0) {
			discard_pending(g);
			g->result = r;
			break;
		}
		done += count;
	}
	return NULL;
}

/* As many requests at once as the replies fit in the receive buffer. */
static size_t window_for(int rcvbuf_bytes)
{
	size_t window = (size_t)rcvbuf_bytes / 2 / NFT_GET_REPLY_BYTES;

	if (window > NFT_GET_WINDOW)
		return NFT_GET_WINDOW;
	return window < 1 ? 1 : window;
}

/* The getter asks on nft's own socket, for at most n requests. */
static void getter_share_socket(struct getter *g, struct nft *nft, size_t n)
{
	g->nl = nft->nl;
	g->portid = nft->portid;
	g->seq = nft_nl_next_seq(nft, (uint32_t)n);
	g->window = window_for(nft->rcvbuf_bytes);
}

static int getter_open_socket(struct getter *g)
{
	int on = 1, rcvbuf = NFT_GET_WINDOW * NFT_GET_REPLY_BYTES;
	socklen_t len = sizeof(rcvbuf);

	g->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!g->nl)
		return -errno;
	g->own_socket = true;
	if (mnl_socket_bind(g->nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(g->nl, NETLINK_CAP_ACK, &on, sizeof(on)) < 0)
		return -errno;
	/* Capped by net.core.rmem_max; the window adapts to what it got. */
	if (setsockopt(mnl_socket_get_fd(g->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) <
		    0 ||
	    getsockopt(mnl_socket_get_fd(g->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len) < 0)
		return -errno;
	g->portid = mnl_socket_get_portid(g->nl);
	g->seq = 1;
	g->window = window_for(rcvbuf);
	return 0;
}

static size_t reader_count(size_t total)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = total / NFT_GET_PER_READER_MIN;

	if (cpus < 1)
		cpus = 1;
	if (n > (size_t)cpus)
		n = (size_t)cpus;
	if (n > NFT_GET_READERS_MAX)
		n = NFT_GET_READERS_MAX;
	return n < 1 ? 1 : n;
}

/* Runs fn(arg) on a thread of its own with every signal blocked (signals
 * stay with the daemon's own threads), or here when no thread starts. */
static bool thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t all, saved;
	bool started;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	started = pthread_create(thread, NULL, fn, arg) == 0;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (!started)
		fn(arg);
	return started;
}

int nft_counters_get(struct nft *nft, const struct nft_entry *entries, size_t n_entries,
		     struct nft_counter **ret_counters, size_t *ret_n_counters)
{
	unsigned kinds = nft_kinds(nft);
	size_t total = kinds * n_entries, n_readers = reader_count(total), n_out = 0;
	struct getter *getters[NFT_GET_READERS_MAX] = { 0 };
	pthread_t threads[NFT_GET_READERS_MAX];
	bool started[NFT_GET_READERS_MAX] = { 0 };
	struct nft_counter *out;
	int r = 0;

	out = calloc(total ? total : 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n_readers; i++) {
		struct getter *g = calloc(1, sizeof(*g));

		if (!g) {
			r = -ENOMEM;
			goto out;
		}
		getters[i] = g;
		g->table = nft->table;
		g->entries = entries;
		g->kinds = kinds;
		/* Slices end on a household's boundary. */
		g->first = n_entries * i / n_readers * kinds;
		g->count = n_entries * (i + 1) / n_readers * kinds - g->first;
		g->out = out + g->first;
		if (i == 0) {
			getter_share_socket(g, nft, g->count);
			continue;
		}
		r = getter_open_socket(g);
		if (r < 0)
			goto out;
	}

	/* The kernel does the work inside each reader's sendmsg(), so readers
	 * on more CPUs finish sooner: the GETs are independent. */
	for (size_t i = 1; i < n_readers; i++)
		started[i] = thread_start(&threads[i], getter_run, getters[i]);
	getter_run(getters[0]);
	for (size_t i = 1; i < n_readers; i++) {
		if (started[i])
			pthread_join(threads[i], NULL);
	}

	/* Compact: a slice holds only the counters that exist. */
	for (size_t i = 0; i < n_readers; i++) {
		if (getters[i]->result < 0 && r == 0)
			r = getters[i]->result;
		memmove(out + n_out, getters[i]->out, getters[i]->n_out * sizeof(*out));
		n_out += getters[i]->n_out;
	}
	if (r < 0)
		goto out;
	*ret_counters = out;
	*ret_n_counters = n_out;
	out = NULL;
out:
	for (size_t i = 0; i < n_readers; i++) {
		if (getters[i] && getters[i]->own_socket && getters[i]->nl)
			mnl_socket_close(getters[i]->nl);
		free(getters[i]);
	}
	free(out);
	return r;
}

static int split_object_cb(const struct nlmsghdr *nlh, void *data)
{
	struct split *split = data;
	const struct nft_entry *entry;
	struct nft_object obj;
	int r;

	r = parse_object(nlh, split->table, &obj);
	if (r == -ENOENT)
		return MNL_CB_OK;
	if (r < 0) {
		errno = -r;
		return MNL_CB_ERROR;
	}
	/* Only counters are ours, and of those only the kinds in use. */
	entry = obj.ours && obj.kind < split->kinds ? nft_model_find(split->model, obj.id) : NULL;
	if (entry) {
		struct nft_counter counter = {
			.household_id = obj.id,
			.scope = (enum nft_scope)(obj.kind / 2),
			.direction = (enum nft_direction)(obj.kind % 2),
			.handle = obj.handle,
			.bytes = obj.bytes,
			.packets = obj.packets,
		};

		split_take(split, split->kinds * (size_t)(entry - split->model->entries) + obj.kind,
			   &counter);
	}
	/* The GETs have read the rest, or the dump has gone as far as it is
	 * cheap: it goes no further. */
	if (atomic_load(&split->remaining) == 0 || ++split->dumped >= NFT_DUMP_MAX_COUNTERS) {
		split->dump_stopped = true;
		return MNL_CB_STOP;
	}
	return MNL_CB_OK;
}

/* GETs from the start of the daemon's list up, on a socket of their own. */
static int split_get_ascending(struct split *split)
{
	struct getter *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	r = getter_open_socket(g);
	if (r == 0) {
		g->table = split->table;
		g->entries = split->model->entries;
		g->split = split;
		g->kinds = split->kinds;
		g->ascending = true;
		g->count = split->kinds * split->model->n_entries;
		getter_run(g);
		r = g->result;
	}
	if (g->nl)
		mnl_socket_close(g->nl);
	free(g);
	return r;
}

/* The dump half, on a socket of its own that is closed with the dump
 * unfinished when the GETs have read the rest or the dump has gone as far as
 * it is cheap; then, if counters are left, GETs from the start up. */
static void *split_dump_run(void *data)
{
	struct split *split = data;
	struct nft dumper = { 0 };
	struct nft_query query = { .type = NFT_MSG_GETOBJ,
				   .family = NFPROTO_INET,
				   .table = split->table,
				   .obj_type = NFT_OBJECT_COUNTER };
	int r;

	r = nft_nl_open(&dumper);
	if (r == 0)
		r = nft_nl_dump(&dumper, &query, split_object_cb, split, NULL);
	/* Only a dump that ran to its end saw every counter there is. */
	if (r == 0 && !split->dump_stopped)
		atomic_store(&split->dump_complete, true);
	split->dump_result = r;
	nft_nl_close(&dumper);
	if (r == 0 && split->dump_stopped && atomic_load(&split->remaining) > 0)
		split->dump_result = split_get_ascending(split);
	return NULL;
}

int nft_counters_split_read(struct nft *nft, struct nft_counter **ret_counters,
			    size_t *ret_n_counters)
{
	struct split split = { .table = nft->table, .model = &nft->model, .kinds = nft_kinds(nft) };
	size_t total = split.kinds * nft->model.n_entries, n = 0;
	struct getter *g = NULL;
	pthread_t thread;
	bool started;
	int r = 0;

	split.slots = calloc(total + 1, sizeof(*split.slots));
	split.taken = calloc(total + 1, sizeof(*split.taken));
	g = calloc(1, sizeof(*g));
	if (!split.slots || !split.taken || !g) {
		r = -ENOMEM;
		goto out;
	}
	atomic_init(&split.remaining, total);
	atomic_init(&split.dump_complete, false);
	getter_share_socket(g, nft, total);
	g->table = nft->table;
	g->entries = nft->model.entries;
	g->kinds = split.kinds;
	g->split = &split;
	g->cursor = total;

	started = thread_start(&thread, split_dump_run, &split);
	getter_run(g);
	if (started)
		pthread_join(thread, NULL);
	r = g->result;
	/* Every slot is read, or the complete dump showed it gone. */
	if (r == 0 && atomic_load(&split.remaining) > 0 && !atomic_load(&split.dump_complete))
		r = split.dump_result < 0 ? split.dump_result : -EPROTO;
	if (r < 0)
		goto out;
	for (size_t slot = 0; slot < total; slot++)
		if (atomic_load(&split.taken[slot]) && split.slots[slot].household_id != 0)
			split.slots[n++] = split.slots[slot];
	*ret_counters = split.slots;
	*ret_n_counters = n;
	split.slots = NULL;
out:
	free(split.slots);
	free(split.taken);
	free(g);
	return r;
}
