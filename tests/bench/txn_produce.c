/* Transactional produce throughput and commit latency with librdkafka, and
 * the same load without transactions (issue 13's benchmark).
 *
 *   txn_produce <bootstrap> <topic> <record bytes> <records per txn> <transactions> txn|plain
 *
 * txn:   init_transactions, then per transaction begin, <records per txn>
 *        records, flush, commit_transaction. Two times per transaction:
 *        the commit (commit_transaction's call to its return once the
 *        records are acknowledged: EndTxn, which the coordinator answers
 *        once PrepareCommit is durable), and flush + commit (from the end
 *        of the produce calls, which only queue, to the commit's return:
 *        the transaction's records sent and fsynced, then the commit; what
 *        commit_transaction alone would take without the flush before it).
 * plain: the same records with the idempotent producer (acks=all, which
 *        transactions imply), flushed once at the end.
 *
 * Both modes first fetch the topic's metadata (untimed): a topic named only
 * in rd_kafka_producev() is looked up by librdkafka's 1 s topic scan, which
 * put up to a second of waiting into the first transaction's commit.
 *
 * Prints: "<MB/s> <commit p50 ms> <p99 ms> <max ms> <flush+commit p50 ms>
 * <p99 ms> <max ms>" (latencies 0 for plain). */
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t failed;

static double pct(int64_t *sorted, long n, int p) {
        return n > 0 ? sorted[(size_t)(n * p / 100)] / 1000.0 : 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        (void)rk;
        (void)opaque;
        if (m->err) failed++;
}

static int compare(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

static void check(rd_kafka_error_t *error, const char *what) {
        if (!error) return;
        fprintf(stderr, "%s: %s\n", what, rd_kafka_error_string(error));
        exit(1);
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
        char err[512];
        if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "%s=%s: %s\n", key, value, err);
                exit(1);
        }
}

int main(int argc, char **argv) {
        if (argc < 7) {
                fprintf(stderr,
                        "usage: %s <bootstrap> <topic> <record bytes> <records per txn> <transactions> txn|plain\n",
                        argv[0]);
                return 2;
        }
        const size_t size = (size_t)atol(argv[3]);
        const long per_txn = atol(argv[4]);
        const long transactions = atol(argv[5]);
        const int transactional = strcmp(argv[6], "txn") == 0;
        char err[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        set(conf, "bootstrap.servers", argv[1]);
        set(conf, "linger.ms", "5");
        set(conf, "batch.size", "1048576");
        set(conf, "queue.buffering.max.kbytes", "1048576");
        set(conf, "enable.idempotence", "true");
        if (transactional) {
                char id[64];
                snprintf(id, sizeof id, "txn-bench-%ld", (long)getpid());
                set(conf, "transactional.id", id);
        }
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
        if (!rk) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        /* The topic's leaders before the clock starts (see the top). */
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, argv[2], NULL);
        for (int tries = 0;; tries++) {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
                int ready = e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == 0 &&
                            md->topics[0].partition_cnt > 0;
                for (int p = 0; ready && p < md->topics[0].partition_cnt; p++)
                        if (md->topics[0].partitions[p].leader < 0) ready = 0;
                if (md) rd_kafka_metadata_destroy(md);
                if (ready) break;
                if (tries == 50) {
                        fprintf(stderr, "no metadata for %s\n", argv[2]);
                        return 1;
                }
                usleep(100000);
        }
        if (transactional) check(rd_kafka_init_transactions(rk, 30000), "init_transactions");
        char *payload = malloc(size);
        memset(payload, 'x', size);
        int64_t *commits = calloc((size_t)transactions, sizeof *commits);
        int64_t *with_flush = calloc((size_t)transactions, sizeof *with_flush);
        const int64_t start = now_us();
        for (long t = 0; t < transactions; t++) {
                if (transactional) check(rd_kafka_begin_transaction(rk), "begin_transaction");
                for (long i = 0; i < per_txn; i++) {
                        for (;;) {
                                rd_kafka_resp_err_t e =
                                    rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_VALUE(payload, size),
                                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                                if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
                                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                                        fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
                                        return 1;
                                }
                                rd_kafka_poll(rk, 10);
                        }
                        rd_kafka_poll(rk, 0);
                }
                if (transactional) {
                        const int64_t t0 = now_us();
                        if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                                fprintf(stderr, "flush timed out\n");
                                return 1;
                        }
                        const int64_t t1 = now_us();
                        check(rd_kafka_commit_transaction(rk, 60000), "commit_transaction");
                        const int64_t t2 = now_us();
                        commits[t] = t2 - t1;
                        with_flush[t] = t2 - t0;
                }
        }
        if (!transactional) rd_kafka_flush(rk, 60000);
        const double seconds = (double)(now_us() - start) / 1e6;
        const double mb_s = (double)transactions * (double)per_txn * (double)size / 1e6 / seconds;
        if (failed) {
                fprintf(stderr, "%lld records failed\n", (long long)failed);
                return 1;
        }
        const long n = transactional ? transactions : 0;
        qsort(commits, (size_t)n, sizeof *commits, compare);
        qsort(with_flush, (size_t)n, sizeof *with_flush, compare);
        printf("%.1f %.2f %.2f %.2f %.2f %.2f %.2f\n", mb_s, pct(commits, n, 50), pct(commits, n, 99),
               n ? commits[n - 1] / 1000.0 : 0, pct(with_flush, n, 50), pct(with_flush, n, 99),
               n ? with_flush[n - 1] / 1000.0 : 0);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return 0;
}
