/* Produce latency percentiles at a fixed rate, with librdkafka (the real
 * client; rdkafka_performance reports only avg/lo/hi). Each record's latency
 * runs from rd_kafka_produce() to its delivery report.
 *
 *   produce_latency <bootstrap> <topic> <record bytes> <MB/s> <seconds> [acks]
 *
 * Prints: "<achieved MB/s> <p50 ms> <p99 ms> <p99.9 ms> <max ms> <failed>". */
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t *latencies;
static size_t delivered, failed, capacity;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        (void)rk;
        (void)opaque;
        if (m->err) {
                failed++;
                return;
        }
        int64_t sent = (int64_t)(intptr_t)m->_private;
        if (delivered < capacity) latencies[delivered++] = now_us() - sent;
}

static int compare(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
        if (argc < 6) {
                fprintf(stderr, "usage: %s <bootstrap> <topic> <record bytes> <MB/s> <seconds> [acks]\n", argv[0]);
                return 2;
        }
        const char *acks = argc > 6 ? argv[6] : "1";
        size_t size = (size_t)atol(argv[3]);
        double rate = atof(argv[4]) * 1e6 / (double)size; /* records per second */
        double seconds = atof(argv[5]);
        char err[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err) ||
            rd_kafka_conf_set(conf, "linger.ms", "0", err, sizeof err) ||
            rd_kafka_conf_set(conf, "acks", acks, err, sizeof err) ||
            rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof err)) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
        if (!rk) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        rd_kafka_topic_t *topic = rd_kafka_topic_new(rk, argv[2], NULL);
        capacity = (size_t)(rate * seconds) + 16;
        latencies = calloc(capacity, sizeof *latencies);
        char *payload = malloc(size);
        memset(payload, 'x', size);

        /* Warm up: connect and learn the partitions first. */
        rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, payload, size, NULL, 0,
                         (void *)(intptr_t)now_us());
        rd_kafka_flush(rk, 10000);
        delivered = failed = 0;

        int64_t start = now_us();
        size_t sent = 0;
        for (;;) {
                int64_t now = now_us();
                double elapsed = (double)(now - start) / 1e6;
                if (elapsed >= seconds) break;
                size_t due = (size_t)(elapsed * rate);
                while (sent < due && sent < capacity) {
                        if (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, payload, size,
                                             NULL, 0, (void *)(intptr_t)now_us()) == -1) {
                                rd_kafka_poll(rk, 1);
                                continue;
                        }
                        sent++;
                }
                /* Block briefly for delivery reports instead of spinning: a
                 * busy loop would take a core from the broker on a small
                 * machine. Records are timed from their produce() call. */
                rd_kafka_poll(rk, 1);
        }
        rd_kafka_flush(rk, 30000);
        double wall = (double)(now_us() - start) / 1e6;
        qsort(latencies, delivered, sizeof *latencies, compare);
#define PICK(q) (delivered ? (double)latencies[(size_t)((q) * (double)(delivered - 1))] / 1000.0 : -1.0)
        printf("%.1f %.3f %.3f %.3f %.3f %zu\n", (double)delivered * (double)size / wall / 1e6, PICK(0.5), PICK(0.99),
               PICK(0.999), PICK(1.0), failed);
        rd_kafka_topic_destroy(topic);
        rd_kafka_destroy(rk);
        return 0;
}
