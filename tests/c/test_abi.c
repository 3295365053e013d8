/*
 * C-level checks of the pmp-mail ABI against the committed header and a running emulator.
 *
 *   test_abi CONFIG.json MAILBOX CA.pem
 *
 * Prints one line per check and a final "N passed, M failed"; exits non-zero on failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmp_mail.h"

static int passed = 0, failed = 0;

#define CHECK(cond, name)                                                   \
    do {                                                                    \
        if (cond) {                                                         \
            passed++;                                                       \
            printf("ok   %s\n", name);                                      \
        } else {                                                            \
            failed++;                                                       \
            printf("FAIL %s (%s:%d)\n", name, __FILE__, __LINE__);          \
        }                                                                   \
    } while (0)

static char *read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long size = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)size + 1);
    size_t len = buf != NULL ? fread(buf, 1, (size_t)size, f) : 0;
    fclose(f);
    if (buf != NULL) buf[len] = '\0';
    *len_out = len;
    return buf;
}

/* The last error document contains `needle`. */
static int last_error_contains(const char *needle) {
    char *doc = NULL;
    if (pmp_last_error(&doc) != PMP_STATUS_OK) return 0;
    int found = strstr(doc, needle) != NULL;
    if (!found) printf("     last error: %s\n", doc);
    pmp_string_free(doc);
    return found;
}

static pmp_status client_new_str(const char *json, pmp_client **out) {
    return pmp_client_new((const uint8_t *)json, strlen(json), out);
}

/* Decodes the first PEM block's base64 body into DER (enough for the emulator's CA). */
static size_t pem_to_der(const char *pem, unsigned char *out, size_t cap) {
    const char *start = strstr(pem, "-----\n");
    const char *end = strstr(pem, "\n-----END");
    if (start == NULL || end == NULL) return 0;
    start += 6;
    unsigned int acc = 0;
    int bits = 0;
    size_t len = 0;
    for (const char *p = start; p < end; p++) {
        const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *at = strchr(alphabet, *p);
        if (*p == '\0' || at == NULL) continue; /* newlines, '=' */
        acc = (acc << 6) | (unsigned int)(at - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (len < cap) out[len++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    return len;
}

static uint32_t refusing_signer(void *userdata, const pmp_sign_params *params, uint8_t *signature_out,
                                size_t signature_capacity, size_t *signature_len_out) {
    int *calls = userdata;
    (*calls)++;
    (void)params;
    (void)signature_out;
    (void)signature_capacity;
    (void)signature_len_out;
    return 7; /* e.g. "the key is not accessible" */
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s CONFIG.json MAILBOX CA.pem\n", argv[0]);
        return 2;
    }
    const char *mailbox = argv[2];

    CHECK(strlen(pmp_version()) > 0, "pmp_version");
    CHECK(strcmp(pmp_status_name(PMP_STATUS_OUTCOME_UNKNOWN), "PMP_STATUS_OUTCOME_UNKNOWN") == 0, "pmp_status_name");
    CHECK(strcmp(pmp_status_name(999), "PMP_STATUS_UNKNOWN") == 0, "pmp_status_name unknown number");

    /* Bad input. */
    pmp_client *client = NULL;
    CHECK(pmp_client_new(NULL, 0, &client) == PMP_STATUS_NULL_PARAMETER && client == NULL, "NULL config");
    CHECK(last_error_contains("PMP_STATUS_NULL_PARAMETER"), "NULL config: last error");
    CHECK(client_new_str("{}", NULL) == PMP_STATUS_NULL_PARAMETER, "NULL client_out");
    const uint8_t bad_utf8[] = {'{', 0xc3, 0x28, '}'};
    CHECK(pmp_client_new(bad_utf8, sizeof bad_utf8, &client) == PMP_STATUS_INVALID_ARGUMENT, "invalid UTF-8");
    CHECK(last_error_contains("UTF-8"), "invalid UTF-8: message");
    CHECK(client_new_str("{\"tenant\":", &client) == PMP_STATUS_INVALID_ARGUMENT, "malformed JSON");
    CHECK(client_new_str("{\"tenant\":\"contoso.onmicrosoft.com\",\"clientId\":\"22222222-2222-2222-2222-222222222222\","
                         "\"auth\":{\"type\":\"clientSecret\",\"secret\":\"x\"},\"shoeSize\":42}",
                         &client) == PMP_STATUS_INVALID_ARGUMENT,
          "unknown field");
    CHECK(last_error_contains("shoeSize"), "unknown field: named");
    CHECK(client_new_str("{\"tenant\":\"common\",\"clientId\":\"22222222-2222-2222-2222-222222222222\","
                         "\"auth\":{\"type\":\"clientSecret\",\"secret\":\"x\"}}",
                         &client) == PMP_STATUS_INVALID_CONFIG,
          "common tenant rejected");
    CHECK(client == NULL, "client_out untouched on failure");
    pmp_client_free(NULL);
    pmp_string_free(NULL);
    CHECK(pmp_last_error(NULL) == PMP_STATUS_NULL_PARAMETER, "pmp_last_error(NULL)");

    /* A working client. */
    size_t config_len = 0;
    char *config = read_file(argv[1], &config_len);
    CHECK(config != NULL, "read config");
    if (config == NULL) goto summary;
    pmp_status status = pmp_client_new((const uint8_t *)config, config_len, &client);
    CHECK(status == PMP_STATUS_OK && client != NULL, "pmp_client_new");
    if (status != PMP_STATUS_OK) {
        last_error_contains("");
        free(config);
        goto summary;
    }
    CHECK(last_error_contains("null"), "last error is null after success");

    char *report = NULL;
    CHECK(pmp_test_permissions(client, NULL, 0, &report) == PMP_STATUS_OK, "pmp_test_permissions");
    CHECK(report != NULL && strstr(report, "\"authenticated\":true") != NULL, "authenticated");
    CHECK(report != NULL && strstr(report, "{\"name\":\"Mail.Send\",\"status\":\"Granted\"") != NULL, "Mail.Send granted");
    pmp_string_free(report);
    const char *options = "{\"forceRefresh\":true}";
    report = NULL;
    CHECK(pmp_test_permissions(client, (const uint8_t *)options, strlen(options), &report) == PMP_STATUS_OK &&
              strstr(report, "\"tokenSource\":\"endpoint\"") != NULL,
          "forceRefresh");
    pmp_string_free(report);

    char message[512];
    snprintf(message, sizeof message,
             "{\"from\":\"%s\",\"to\":[\"Ann <ann@contoso.com>\"],\"subject\":\"C test \xc3\xbc\","
             "\"attachments\":[{\"name\":\"hello.txt\",\"contentBase64\":\"aGVsbG8=\"}]}",
             mailbox);
    char *result = NULL;
    CHECK(pmp_send_mail(client, (const uint8_t *)message, strlen(message), &result) == PMP_STATUS_OK, "pmp_send_mail");
    CHECK(result != NULL && strstr(result, "\"status\":\"sent\"") != NULL, "result says sent");
    pmp_string_free(result);

    const char *bad_message = "{\"from\":\"alerts@contoso.onmicrosoft.com\",\"to\":[\"not-an-address\"]}";
    char *untouched = (char *)0x1;
    CHECK(pmp_send_mail(client, (const uint8_t *)bad_message, strlen(bad_message), &untouched) ==
              PMP_STATUS_INVALID_ARGUMENT,
          "bad recipient rejected");
    CHECK(untouched == (char *)0x1, "result_out untouched on failure");
    CHECK(last_error_contains("not-an-address"), "bad recipient named");
    CHECK(pmp_send_mail(NULL, (const uint8_t *)message, strlen(message), &result) == PMP_STATUS_NULL_PARAMETER,
          "NULL client");
    pmp_client_free(client);

    /* A host signer that refuses: PMP_STATUS_SIGNER, and the callback was called. */
    size_t ca_len = 0;
    char *ca_pem = read_file(argv[3], &ca_len);
    static unsigned char der[8192];
    size_t der_len = ca_pem != NULL ? pem_to_der(ca_pem, der, sizeof der) : 0;
    free(ca_pem);
    CHECK(der_len > 100, "decode a certificate for the signer");
    char *signer_config = strstr(config, "\"auth\"") != NULL ? config : NULL;
    if (signer_config != NULL) {
        /* Same config with auth replaced by {"type":"signer"}: the auth object ends at the first '}'. */
        char *auth = strstr(config, "\"auth\"");
        char *auth_end = strchr(auth, '}');
        size_t head = (size_t)(auth - config);
        char *rebuilt = malloc(config_len + 64);
        memcpy(rebuilt, config, head);
        int n = sprintf(rebuilt + head, "\"auth\":{\"type\":\"signer\"}");
        strcpy(rebuilt + head + (size_t)n, auth_end + 1);
        int calls = 0;
        pmp_client *signed_client = NULL;
        status = pmp_client_new_with_signer((const uint8_t *)rebuilt, strlen(rebuilt), der, der_len, refusing_signer,
                                            &calls, &signed_client);
        CHECK(status == PMP_STATUS_OK, "pmp_client_new_with_signer");
        if (status == PMP_STATUS_OK) {
            report = NULL;
            CHECK(pmp_test_permissions(signed_client, NULL, 0, &report) == PMP_STATUS_SIGNER, "refusing signer");
            CHECK(calls == 1, "signer callback called once");
            CHECK(last_error_contains("\"category\":\"signer\""), "signer error document");
            pmp_client_free(signed_client);
        }
        free(rebuilt);
    }
    free(config);

summary:
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
