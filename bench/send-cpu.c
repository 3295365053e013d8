/* CPU per sequential send through the C ABI: one client, N `pmp_send_mail` calls in a row
 * against the emulator on loopback, `getrusage` of the whole process (every thread of the
 * library included) around them. Prints numbers, asserts nothing about time. `build.ps1 bench`
 * compiles and runs it (Linux and macOS; getrusage is POSIX).
 *
 *     send-cpu CONFIG.json FROM [SENDS] [ROUNDS]
 *
 * CPU time on a VM moves with its neighbours, so it runs ROUNDS rounds and prints the median. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, getrusage under -std=c11 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "pmp_mail.h"

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return NULL; }
    long size = ftell(f);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    if (text && fread(text, 1, (size_t)size, f) != (size_t)size) { free(text); text = NULL; }
    if (text) text[size] = '\0';
    fclose(f);
    return text;
}

static double micros(struct timeval t) { return t.tv_sec * 1e6 + t.tv_usec; }

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Prints the thread's last error document. */
static void print_last_error(const char *what) {
    char *error = NULL;
    pmp_last_error(&error);
    fprintf(stderr, "%s: %s\n", what, error ? error : "(no error document)");
    pmp_string_free(error);
}

static int send_one(pmp_client *client, const char *message) {
    char *result = NULL;
    pmp_status status = pmp_send_mail(client, (const uint8_t *)message, strlen(message), &result);
    if (status != PMP_STATUS_OK) {
        print_last_error("pmp_send_mail failed");
        return 1;
    }
    pmp_string_free(result);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: send-cpu CONFIG.json FROM [SENDS] [ROUNDS]\n");
        return 2;
    }
    int sends = argc > 3 ? atoi(argv[3]) : 3000;
    int rounds = argc > 4 ? atoi(argv[4]) : 5;
    if (sends < 1 || rounds < 1 || rounds > 100) {
        fprintf(stderr, "SENDS must be at least 1 and ROUNDS 1 to 100\n");
        return 2;
    }
    char *config = read_file(argv[1]);
    if (!config) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    pmp_client *client = NULL;
    if (pmp_client_new((const uint8_t *)config, strlen(config), &client) != PMP_STATUS_OK) {
        print_last_error("pmp_client_new failed");
        return 1;
    }
    char message[512];
    snprintf(message, sizeof message,
             "{\"from\":\"%s\",\"to\":[\"ops@contoso.com\"],\"subject\":\"cpu\",\"body\":\"hello\"}", argv[2]);

    /* The token, the connection and the library's first-use work are not what is measured. */
    for (int i = 0; i < 50; i++) {
        if (send_one(client, message)) return 1;
    }
    double per_mail[100];
    for (int round = 0; round < rounds; round++) {
        struct rusage before, after;
        struct timespec start, end;
        getrusage(RUSAGE_SELF, &before);
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (int i = 0; i < sends; i++) {
            if (send_one(client, message)) return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &end);
        getrusage(RUSAGE_SELF, &after);
        double user = micros(after.ru_utime) - micros(before.ru_utime);
        double sys = micros(after.ru_stime) - micros(before.ru_stime);
        double wall = (end.tv_sec - start.tv_sec) * 1e6 + (end.tv_nsec - start.tv_nsec) / 1e3;
        per_mail[round] = (user + sys) / sends;
        printf("round %d: %d sends, client CPU %.1f us/mail (user %.1f, sys %.1f), wall %.0f us/mail, "
               "context switches %.2f/mail\n",
               round + 1, sends, per_mail[round], user / sends, sys / sends, wall / sends,
               (double)(after.ru_nvcsw - before.ru_nvcsw + after.ru_nivcsw - before.ru_nivcsw) / sends);
    }
    qsort(per_mail, (size_t)rounds, sizeof per_mail[0], by_value);
    printf("client CPU per sequential send (C ABI): median %.1f us, best %.1f us, of %d rounds\n",
           per_mail[rounds / 2], per_mail[0], rounds);
    pmp_client_free(client);
    free(config);
    return 0;
}
