/* The few librdkafka-internal helpers rdkafka_performance.c (an example
 * program that Debian's librdkafka-dev ships as source) uses from the
 * librdkafka source tree, which is not installed: a monotonic clock in
 * microseconds, snprintf, and min/max. Lets the example build unmodified
 * against the installed library (tests/bench/broker_bench.py). */
#ifndef STRATA_RDKAFKA_PERF_RD_H
#define STRATA_RDKAFKA_PERF_RD_H
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int64_t rd_ts_t;

static inline rd_ts_t rd_clock(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ((rd_ts_t)ts.tv_sec * 1000000LLU) + ((rd_ts_t)ts.tv_nsec / 1000);
}

#define rd_snprintf(...) snprintf(__VA_ARGS__)
#define RD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RD_MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
