/*
 * send_mail: test the app's permissions, then send one message through pmp-mail.
 *
 *   send_mail CONFIG.json FROM TO [SUBJECT]
 *
 * CONFIG.json is a pmp-mail config document (docs/contracts.md section 2).
 * Exit status 0 when the message was sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmp_mail.h"

static char *read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    *len_out = len;
    return buf;
}

/* Prints this thread's last error document. */
static void print_last_error(const char *what, pmp_status status) {
    char *doc = NULL;
    fprintf(stderr, "%s failed: %s\n", what, pmp_status_name(status));
    if (pmp_last_error(&doc) == PMP_STATUS_OK) {
        fprintf(stderr, "%s\n", doc);
        pmp_string_free(doc);
    }
}

/* Appends `text` to `out` as a JSON string literal (quotes and escapes included). */
static void json_string(char *out, size_t cap, const char *text) {
    size_t len = strlen(out);
    if (len + 2 >= cap) return;
    out[len++] = '"';
    for (const char *p = text; *p != '\0' && len + 7 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            out[len++] = '\\';
            out[len++] = (char)c;
        } else if (c < 0x20) {
            len += (size_t)snprintf(out + len, cap - len, "\\u%04x", c);
        } else {
            out[len++] = (char)c;
        }
    }
    out[len++] = '"';
    out[len] = '\0';
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s CONFIG.json FROM TO [SUBJECT]\n", argv[0]);
        return 2;
    }
    const char *subject = argc > 4 ? argv[4] : "pmp-mail C example";
    printf("pmp-mail %s\n", pmp_version());

    size_t config_len = 0;
    char *config = read_file(argv[1], &config_len);
    if (config == NULL) return 1;

    pmp_client *client = NULL;
    pmp_status status = pmp_client_new((const uint8_t *)config, config_len, &client);
    free(config);
    if (status != PMP_STATUS_OK) {
        print_last_error("pmp_client_new", status);
        return 1;
    }

    int exit_code = 1;
    char *report = NULL;
    status = pmp_test_permissions(client, NULL, 0, &report);
    if (status != PMP_STATUS_OK) {
        print_last_error("pmp_test_permissions", status);
        goto done;
    }
    printf("permissions: %s\n", report);
    int authenticated = strstr(report, "\"authenticated\":true") != NULL;
    pmp_string_free(report);
    if (!authenticated) {
        fprintf(stderr, "authentication failed (see the report's error)\n");
        goto done;
    }

    char message[4096] = "{\"from\":";
    json_string(message, sizeof message, argv[2]);
    strncat(message, ",\"to\":[", sizeof message - strlen(message) - 1);
    json_string(message, sizeof message, argv[3]);
    strncat(message, "],\"subject\":", sizeof message - strlen(message) - 1);
    json_string(message, sizeof message, subject);
    strncat(message, ",\"body\":\"Sent by the pmp-mail C example.\"}", sizeof message - strlen(message) - 1);

    char *result = NULL;
    status = pmp_send_mail(client, (const uint8_t *)message, strlen(message), &result);
    if (status != PMP_STATUS_OK) {
        print_last_error("pmp_send_mail", status);
        goto done;
    }
    printf("sent: %s\n", result);
    pmp_string_free(result);
    exit_code = 0;

done:
    pmp_client_free(client);
    return exit_code;
}
