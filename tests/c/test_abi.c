/*
 * C-level checks of the pmp-mail ABI against the committed header and a running emulator.
 *
 *   test_abi CONFIG.json MAILBOX CA.pem GOOGLE-CONFIG.json LARGE-FILE
 *
 * CONFIG.json must carry a client-secret auth object, {"type":"clientSecret","secret":"..."}
 * (tools/Invoke-CAbiTests.ps1, the c-abi suite, writes it): the wrong-secret and host-signer
 * checks are built from it, and a config without it fails those checks instead of skipping them.
 * GOOGLE-CONFIG.json is a googleWorkspace config with a key file and no google.impersonate;
 * LARGE-FILE is sent through Gmail as an attachment (above 5 MiB: the resumable upload). The
 * suite sets the fault plan the Google section expects and checks what the emulator recorded.
 *
 * Prints one line per check, every report, result and last-error document it gets (so that
 * the suite can grep this output for a leaked secret or token), the library's log on stderr, and
 * finally "checks run: N" and "N passed, M failed"; exits non-zero on failure.
 */
#include <pthread.h>
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

/* This thread's last error document, printed; the caller frees it with pmp_string_free. */
static char *last_error(void) {
    char *doc = NULL;
    if (pmp_last_error(&doc) != PMP_STATUS_OK) {
        printf("     last error: (pmp_last_error failed)\n");
        return NULL;
    }
    printf("     last error: %s\n", doc);
    return doc;
}

/* The last error document contains `needle`. */
static int last_error_contains(const char *needle) {
    char *doc = last_error();
    int found = doc != NULL && strstr(doc, needle) != NULL;
    pmp_string_free(doc);
    return found;
}

/* The last error document exists and does not contain `needle`. */
static int last_error_lacks(const char *needle) {
    char *doc = last_error();
    int lacks = doc != NULL && strstr(doc, needle) == NULL;
    pmp_string_free(doc);
    return lacks;
}

/* Prints a report or result document (NULL when the call failed). */
static void print_document(const char *what, const char *doc) {
    printf("     %s: %s\n", what, doc != NULL ? doc : "(none)");
}

static pmp_status client_new_str(const char *json, pmp_client **out) {
    return pmp_client_new((const uint8_t *)json, strlen(json), out);
}

/* The library's log, at debug level, on stderr: the suite greps it along with stdout. */
static void print_log(void *userdata, const pmp_log_params *params) {
    (void)userdata;
    fprintf(stderr, "log %u: %.*s\n", params->level, (int)params->message_len, params->message);
}

/*
 * A copy of `config` with its auth object replaced by `auth` (malloc'd), or NULL when `config`
 * has no "auth":{...} object. The object ends at its first '}': the suite's auth objects have no
 * nested objects.
 */
static char *with_auth(const char *config, const char *auth) {
    const char *start = strstr(config, "\"auth\":{");
    const char *end = start != NULL ? strchr(start, '}') : NULL;
    if (end == NULL) return NULL;
    size_t head = (size_t)(start - config);
    size_t size = head + strlen("\"auth\":") + strlen(auth) + strlen(end + 1) + 1;
    char *out = malloc(size);
    if (out != NULL) snprintf(out, size, "%.*s\"auth\":%s%s", (int)head, config, auth, end + 1);
    return out;
}

/* The config's client secret (malloc'd; the suite's secrets need no JSON escapes), or NULL. */
static char *config_secret(const char *config) {
    const char *key = "\"secret\":\"";
    const char *start = strstr(config, key);
    if (start == NULL) return NULL;
    start += strlen(key);
    const char *end = strchr(start, '"');
    if (end == NULL || end == start) return NULL;
    size_t len = (size_t)(end - start);
    char *secret = malloc(len + 1);
    if (secret == NULL) return NULL;
    memcpy(secret, start, len);
    secret[len] = '\0';
    return secret;
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

/* What the assertion callback was asked for, and what it answers. */
typedef struct assertion_host {
    int calls;
    char client_id[64];
    char token_url[512];
    const char *answer; /* NULL: refuse with 9 */
} assertion_host;

static uint32_t host_assertion(void *userdata, const pmp_assertion_params *params, uint8_t *assertion_out,
                               size_t assertion_capacity, size_t *assertion_len_out) {
    assertion_host *host = userdata;
    host->calls++;
    if (params->client_id_len < sizeof host->client_id) {
        memcpy(host->client_id, params->client_id, params->client_id_len);
        host->client_id[params->client_id_len] = '\0';
    }
    if (params->token_url_len < sizeof host->token_url) {
        memcpy(host->token_url, params->token_url, params->token_url_len);
        host->token_url[params->token_url_len] = '\0';
    }
    if (host->answer == NULL) return 9; /* e.g. "the OIDC endpoint did not answer" */
    size_t len = strlen(host->answer);
    if (len > assertion_capacity) return 10;
    memcpy(assertion_out, host->answer, len);
    *assertion_len_out = len;
    return 0;
}

/* The number of threads in this process (Linux: /proc/self/status), or -1 where unknown. */
static int threads_in_process(void) {
#ifdef __linux__
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    char line[256];
    int threads = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "Threads:", 8) == 0) threads = atoi(line + 8);
    }
    fclose(f);
    return threads;
#else
    return -1;
#endif
}

/* Progress of a batch, as the callback saw it. */
typedef struct batch_watch {
    pthread_t caller;
    int calls, other_thread, first_done, last_done, total;
    int refused_inside; /* a client call from inside the callback was refused */
    const pmp_client *client;
} batch_watch;

static void watch_batch(void *userdata, const pmp_batch_progress *p) {
    batch_watch *w = userdata;
    if (!pthread_equal(w->caller, pthread_self())) w->other_thread++;
    if (w->calls == 0) w->first_done = (int)p->done;
    w->calls++;
    w->last_done = (int)p->done;
    w->total = (int)p->total;
    if (w->calls == 1) {
        char *out = NULL;
        w->refused_inside = pmp_test_permissions(w->client, NULL, 0, &out) == PMP_STATUS_INVALID_ARGUMENT && out == NULL;
    }
}

/*
 * Google Workspace (the c-abi suite's directory declares these users; the service account's
 * domain-wide delegation covers example.com but not nodwd.example).
 */
#define GMAIL_USER "alerts@example.com"
#define GMAIL_UNDELEGATED_USER "alerts@nodwd.example"
#define GMAIL_CLIENT_ID "123456789012345678901"
#define GMAIL_THREADS 8

/* The number after "key": in a result document, or -1. */
static long json_number(const char *doc, const char *key) {
    const char *at = doc != NULL ? strstr(doc, key) : NULL;
    return at != NULL ? strtol(at + strlen(key), NULL, 10) : -1;
}

/* One of the concurrent sends: its own thread, the shared client. */
typedef struct gmail_send {
    const pmp_client *client;
    int index;
    pmp_status status;
} gmail_send;

static void *send_concurrently(void *arg) {
    gmail_send *send = arg;
    char message[256];
    /* Half as each user: each user's first token is fetched while the others wait for it. */
    snprintf(message, sizeof message,
             "{\"from\":\"%s\",\"to\":[\"ops@example.net\"],\"subject\":\"C Gmail concurrent %d\",\"body\":\"x\"}",
             send->index % 2 == 0 ? "c-ann@example.com" : "c-bob@example.com", send->index);
    char *result = NULL;
    send->status = pmp_send_mail(send->client, (const uint8_t *)message, strlen(message), &result);
    if (send->status == PMP_STATUS_OK) {
        print_document("concurrent result", result);
    } else {
        pmp_string_free(last_error()); /* the last error is this thread's */
    }
    pmp_string_free(result);
    return NULL;
}

/*
 * Through Gmail with a key file: throttling waited out, an answer lost after Gmail accepted the
 * message, missing delegation, a non-ASCII message with a small attachment, a large one, and
 * concurrent sends as two users. The suite's fault plan answers the first Gmail send with 429
 * (Retry-After: 1) and drops the connection after accepting the second message, so those two
 * sends come first. The suite checks what arrived (once each, byte-exact) and the token counts.
 */
static void google_section(const char *config_path, const char *large_path) {
    size_t config_len = 0;
    char *config = read_file(config_path, &config_len);
    CHECK(config != NULL && strstr(config, "\"googleWorkspace\"") != NULL, "gmail: read the googleWorkspace config");
    pmp_client *client = NULL;
    pmp_status status = config != NULL ? pmp_client_new((const uint8_t *)config, config_len, &client)
                                       : PMP_STATUS_INVALID_ARGUMENT;
    free(config);
    CHECK(status == PMP_STATUS_OK && client != NULL, "gmail: pmp_client_new with a key file");
    if (status != PMP_STATUS_OK) {
        pmp_string_free(last_error());
        return;
    }

    /* Throttled once: waited out (the wait is in the result) and sent once. */
    const char *throttled = "{\"from\":\"" GMAIL_USER "\",\"to\":[\"ops@example.net\"],"
                            "\"subject\":\"C Gmail throttled\",\"body\":\"x\"}";
    char *result = NULL;
    CHECK(pmp_send_mail(client, (const uint8_t *)throttled, strlen(throttled), &result) == PMP_STATUS_OK &&
              result != NULL && strstr(result, "\"status\":\"sent\"") != NULL,
          "gmail: a throttled send is sent");
    print_document("result", result);
    CHECK(json_number(result, "\"attempts\":") == 2 && json_number(result, "\"waitedMs\":") >= 1000,
          "gmail: two attempts, waited at least the Retry-After");
    CHECK(result != NULL && strstr(result, "HTTP 429") != NULL, "gmail: the 429 is in the result's log");
    pmp_string_free(result);

    /* The answer is lost after Gmail accepted the message: unknown, and not sent again. */
    const char *dropped = "{\"from\":\"" GMAIL_USER "\",\"to\":[\"ops@example.net\"],"
                          "\"subject\":\"C Gmail dropped\",\"body\":\"x\"}";
    char *untouched = (char *)0x1;
    CHECK(pmp_send_mail(client, (const uint8_t *)dropped, strlen(dropped), &untouched) ==
                  PMP_STATUS_OUTCOME_UNKNOWN &&
              untouched == (char *)0x1,
          "gmail: a lost answer is PMP_STATUS_OUTCOME_UNKNOWN");
    CHECK(last_error_contains("\"outcome\":\"unknown\"") && last_error_contains("\"category\":\"outcomeUnknown\""),
          "gmail: lost answer: outcome unknown in the error document");

    /* No delegation for the user's domain: gmail.send Missing, the Admin console named. */
    const char *undelegated = "{\"mailbox\":\"" GMAIL_UNDELEGATED_USER "\"}";
    char *report = NULL;
    CHECK(pmp_test_permissions(client, (const uint8_t *)undelegated, strlen(undelegated), &report) == PMP_STATUS_OK,
          "gmail: pmp_test_permissions without delegation");
    print_document("report", report);
    CHECK(report != NULL && strstr(report, "\"authenticated\":false") != NULL &&
              strstr(report, "{\"name\":\"gmail.send\",\"status\":\"Missing\"") != NULL,
          "gmail: no delegation: gmail.send Missing");
    CHECK(report != NULL && strstr(report, "Admin console") != NULL && strstr(report, "Domain-wide delegation") != NULL &&
              strstr(report, GMAIL_CLIENT_ID) != NULL && strstr(report, "unauthorized_client") != NULL,
          "gmail: no delegation: the remedy names the Admin console page and the client id");
    pmp_string_free(report);
    const char *as_undelegated = "{\"from\":\"" GMAIL_UNDELEGATED_USER "\",\"to\":[\"ops@example.net\"],"
                                 "\"subject\":\"C Gmail undelegated\"}";
    CHECK(pmp_send_mail(client, (const uint8_t *)as_undelegated, strlen(as_undelegated), &untouched) ==
              PMP_STATUS_PERMISSION_DENIED,
          "gmail: no delegation: a send is PMP_STATUS_PERMISSION_DENIED");
    CHECK(last_error_contains("Admin console") && last_error_contains("\"outcome\":\"failed\""),
          "gmail: no delegation: nothing sent, the remedy in the error document");

    /* The delegated user: gmail.send Granted. */
    const char *delegated = "{\"mailbox\":\"" GMAIL_USER "\"}";
    report = NULL;
    CHECK(pmp_test_permissions(client, (const uint8_t *)delegated, strlen(delegated), &report) == PMP_STATUS_OK &&
              report != NULL && strstr(report, "\"authenticated\":true") != NULL &&
              strstr(report, "{\"name\":\"gmail.send\",\"status\":\"Granted\"") != NULL,
          "gmail: delegation: gmail.send Granted");
    print_document("report", report);
    pmp_string_free(report);

    /* Non-ASCII names, subject, body and attachment name; a small binary attachment (the
       suite checks its SHA-256 and the names in what the emulator recorded). */
    static const uint8_t payload[] = {0x00, 0xff, 'p', 'm', 'p', '\n', 0x80, 0x7f};
    const pmp_buffer small[1] = {{payload, sizeof payload}};
    const char *non_ascii = "{\"from\":\"Jörg Müller <" GMAIL_USER ">\",\"to\":[\"Ann Ärger <ann@example.net>\"],"
                            "\"subject\":\"C Gmail Größe – 漢字 ✓\",\"body\":\"Grüße aus C ✓\","
                            "\"attachments\":[{\"name\":\"bericht ä.bin\",\"buffer\":0}]}";
    result = NULL;
    CHECK(pmp_send_mail_with_buffers(client, (const uint8_t *)non_ascii, strlen(non_ascii), small, 1, NULL, &result) ==
                  PMP_STATUS_OK &&
              result != NULL && strstr(result, "\"uploadSession\":false") != NULL,
          "gmail: non-ASCII message with a small attachment");
    print_document("result", result);
    pmp_string_free(result);

    /* A large attachment: the message goes through the resumable upload. */
    size_t large_len = 0;
    char *large = read_file(large_path, &large_len);
    CHECK(large != NULL && large_len > 5 * 1024 * 1024, "gmail: read the large attachment");
    const pmp_buffer big[1] = {{(const uint8_t *)large, large_len}};
    const char *large_message = "{\"from\":\"" GMAIL_USER "\",\"to\":[\"ops@example.net\"],"
                                "\"subject\":\"C Gmail large\",\"attachments\":[{\"name\":\"groß.bin\",\"buffer\":0}]}";
    result = NULL;
    CHECK(large != NULL &&
              pmp_send_mail_with_buffers(client, (const uint8_t *)large_message, strlen(large_message), big, 1, NULL,
                                         &result) == PMP_STATUS_OK &&
              result != NULL && strstr(result, "\"uploadSession\":true") != NULL,
          "gmail: a large attachment through the resumable upload");
    print_document("result", result);
    pmp_string_free(result);
    free(large);

    /* Concurrent sends as two users whose tokens nobody fetched yet: the suite checks that
       each user got exactly one token. */
    gmail_send sends[GMAIL_THREADS];
    pthread_t threads[GMAIL_THREADS];
    int started = 0;
    for (int i = 0; i < GMAIL_THREADS; i++) {
        sends[i] = (gmail_send){.client = client, .index = i, .status = PMP_STATUS_INTERNAL};
        if (pthread_create(&threads[i], NULL, send_concurrently, &sends[i]) != 0) break;
        started++;
    }
    int sent = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        if (sends[i].status == PMP_STATUS_OK) sent++;
    }
    CHECK(started == GMAIL_THREADS && sent == GMAIL_THREADS, "gmail: 8 concurrent sends as two users");
    pmp_client_free(client);
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s CONFIG.json MAILBOX CA.pem GOOGLE-CONFIG.json LARGE-FILE\n", argv[0]);
        return 2;
    }
    const char *mailbox = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0); /* the suite pipes stdout: keep it in step with the log on stderr */

    CHECK(strlen(pmp_version()) > 0, "pmp_version");
    CHECK(strcmp(pmp_status_name(PMP_STATUS_OUTCOME_UNKNOWN), "PMP_STATUS_OUTCOME_UNKNOWN") == 0, "pmp_status_name");
    CHECK(strcmp(pmp_status_name(999), "PMP_STATUS_UNKNOWN") == 0, "pmp_status_name unknown number");
    CHECK(pmp_set_log_callback(print_log, NULL, PMP_LOG_LEVEL_DEBUG) == PMP_STATUS_OK, "pmp_set_log_callback");

    /* Bad input. */
    pmp_client *client = NULL;
    CHECK(pmp_client_new(NULL, 0, &client) == PMP_STATUS_NULL_PARAMETER && client == NULL, "NULL config");
    CHECK(last_error_contains("PMP_STATUS_NULL_PARAMETER"), "NULL config: last error");
    CHECK(client_new_str("{}", NULL) == PMP_STATUS_NULL_PARAMETER, "NULL client_out");
    pmp_string_free(last_error());
    const uint8_t bad_utf8[] = {'{', 0xc3, 0x28, '}'};
    CHECK(pmp_client_new(bad_utf8, sizeof bad_utf8, &client) == PMP_STATUS_INVALID_ARGUMENT, "invalid UTF-8");
    CHECK(last_error_contains("UTF-8"), "invalid UTF-8: message");
    CHECK(client_new_str("{\"tenant\":", &client) == PMP_STATUS_INVALID_ARGUMENT, "malformed JSON");
    pmp_string_free(last_error());
    CHECK(client_new_str("{\"tenant\":\"contoso.onmicrosoft.com\",\"clientId\":\"22222222-2222-2222-2222-222222222222\","
                         "\"auth\":{\"type\":\"clientSecret\",\"secret\":\"x\"},\"shoeSize\":42}",
                         &client) == PMP_STATUS_INVALID_ARGUMENT,
          "unknown field");
    CHECK(last_error_contains("shoeSize"), "unknown field: named");
    CHECK(client_new_str("{\"tenant\":\"common\",\"clientId\":\"22222222-2222-2222-2222-222222222222\","
                         "\"auth\":{\"type\":\"clientSecret\",\"secret\":\"x\"}}",
                         &client) == PMP_STATUS_INVALID_CONFIG,
          "common tenant rejected");
    pmp_string_free(last_error());
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
        pmp_string_free(last_error());
        free(config);
        goto summary;
    }
    CHECK(last_error_contains("null"), "last error is null after success");

    char *report = NULL;
    CHECK(pmp_test_permissions(client, NULL, 0, &report) == PMP_STATUS_OK, "pmp_test_permissions");
    print_document("report", report);
    CHECK(report != NULL && strstr(report, "\"authenticated\":true") != NULL, "authenticated");
    CHECK(report != NULL && strstr(report, "{\"name\":\"Mail.Send\",\"status\":\"Granted\"") != NULL, "Mail.Send granted");
    pmp_string_free(report);
    const char *options = "{\"forceRefresh\":true}";
    report = NULL;
    CHECK(pmp_test_permissions(client, (const uint8_t *)options, strlen(options), &report) == PMP_STATUS_OK &&
              strstr(report, "\"tokenSource\":\"endpoint\"") != NULL,
          "forceRefresh");
    print_document("report", report);
    pmp_string_free(report);

    char message[512];
    snprintf(message, sizeof message,
             "{\"from\":\"%s\",\"to\":[\"Ann <ann@contoso.com>\"],\"subject\":\"C test \xc3\xbc\","
             "\"attachments\":[{\"name\":\"hello.txt\",\"contentBase64\":\"aGVsbG8=\"}]}",
             mailbox);
    char *result = NULL;
    CHECK(pmp_send_mail(client, (const uint8_t *)message, strlen(message), &result) == PMP_STATUS_OK, "pmp_send_mail");
    print_document("result", result);
    CHECK(result != NULL && strstr(result, "\"status\":\"sent\"") != NULL, "result says sent");
    pmp_string_free(result);
    /* Single calls run on the calling thread: no worker threads to hand requests to (each
       hand-off cost futex and epoll wake-ups). Only a batch starts workers. */
    int threads = threads_in_process();
    CHECK(threads == 1 || threads == -1, "single calls start no threads");

    const char *bad_message = "{\"from\":\"alerts@contoso.onmicrosoft.com\",\"to\":[\"not-an-address\"]}";
    char *untouched = (char *)0x1;
    CHECK(pmp_send_mail(client, (const uint8_t *)bad_message, strlen(bad_message), &untouched) ==
              PMP_STATUS_INVALID_ARGUMENT,
          "bad recipient rejected");
    CHECK(untouched == (char *)0x1, "result_out untouched on failure");
    CHECK(last_error_contains("not-an-address"), "bad recipient named");
    result = NULL;
    CHECK(pmp_send_mail(NULL, (const uint8_t *)message, strlen(message), &result) == PMP_STATUS_NULL_PARAMETER,
          "NULL client");
    pmp_string_free(last_error());

    /* pmp_cancel: round trip, NULL handling, a handle cancelled before the call sends nothing. */
    CHECK(strcmp(pmp_status_name(PMP_STATUS_CANCELLED), "PMP_STATUS_CANCELLED") == 0 && PMP_STATUS_CANCELLED == 16,
          "pmp_status_name(PMP_STATUS_CANCELLED)");
    CHECK(pmp_cancel_new(NULL) == PMP_STATUS_NULL_PARAMETER, "pmp_cancel_new(NULL)");
    pmp_cancel_request(NULL);
    pmp_cancel_free(NULL);
    pmp_cancel *cancel = NULL;
    CHECK(pmp_cancel_new(&cancel) == PMP_STATUS_OK && cancel != NULL, "pmp_cancel_new");
    report = NULL;
    CHECK(pmp_test_permissions_cancellable(client, NULL, 0, cancel, &report) == PMP_STATUS_OK &&
              strstr(report, "\"authenticated\":true") != NULL,
          "pmp_test_permissions_cancellable, not cancelled");
    pmp_string_free(report);
    pmp_cancel_request(cancel);
    pmp_cancel_request(cancel);
    untouched = (char *)0x1;
    CHECK(pmp_send_mail_cancellable(client, (const uint8_t *)message, strlen(message), cancel, &untouched) ==
                  PMP_STATUS_CANCELLED &&
              untouched == (char *)0x1,
          "cancelled before the call");
    CHECK(last_error_contains("\"category\":\"cancelled\"") && last_error_contains("\"outcome\":\"failed\""),
          "cancelled: error document");
    report = NULL;
    CHECK(pmp_test_permissions_cancellable(client, NULL, 0, cancel, &report) == PMP_STATUS_CANCELLED,
          "pmp_test_permissions_cancellable, cancelled");
    CHECK(pmp_test_permissions_cancellable(client, NULL, 0, NULL, &report) == PMP_STATUS_OK, "NULL cancel");
    pmp_string_free(report);

    /* pmp_send_mail_with_buffers: attachment bytes beside the document ("buffer": n), borrowed for
       the call; (NULL, 0) lists and entries are fine; bad lists and indexes are refused, nothing written.
       The suite checks the SHA-256 of payload.bin in what the emulator accepted. */
    static const uint8_t payload[] = {0x00, 0xff, 'p', 'm', 'p', '\n', 0x80, 0x7f};
    const pmp_buffer buffers[2] = {{NULL, 0}, {payload, sizeof payload}};
    char buffer_message[512];
    snprintf(buffer_message, sizeof buffer_message,
             "{\"from\":\"%s\",\"to\":[\"ops@contoso.com\"],\"subject\":\"C buffers\","
             "\"attachments\":[{\"name\":\"payload.bin\",\"buffer\":1}]}",
             mailbox);
    const uint8_t *buffer_json = (const uint8_t *)buffer_message;
    size_t buffer_json_len = strlen(buffer_message);
    result = NULL;
    CHECK(pmp_send_mail_with_buffers(client, buffer_json, buffer_json_len, buffers, 2, NULL, &result) == PMP_STATUS_OK &&
              result != NULL && strstr(result, "\"status\":\"sent\"") != NULL,
          "pmp_send_mail_with_buffers");
    pmp_string_free(result);
    result = NULL;
    CHECK(pmp_send_mail_with_buffers(client, (const uint8_t *)message, strlen(message), NULL, 0, NULL, &result) ==
                  PMP_STATUS_OK &&
              result != NULL,
          "pmp_send_mail_with_buffers, NULL list with count 0");
    pmp_string_free(result);
    untouched = (char *)0x1;
    CHECK(pmp_send_mail_with_buffers(client, buffer_json, buffer_json_len, buffers, 1, NULL, &untouched) ==
                  PMP_STATUS_INVALID_ARGUMENT &&
              untouched == (char *)0x1,
          "buffer index out of range");
    CHECK(last_error_contains("attachments[0].buffer is 1, but the call has 1 buffer") &&
              last_error_contains("\"outcome\":\"failed\""),
          "buffer index out of range: named");
    CHECK(pmp_send_mail_with_buffers(client, buffer_json, buffer_json_len, NULL, 2, NULL, &untouched) ==
                  PMP_STATUS_NULL_PARAMETER &&
              last_error_contains("buffers is NULL but buffer_count is 2"),
          "NULL buffer list with a count");
    const pmp_buffer null_data[2] = {{payload, 1}, {NULL, 4}};
    CHECK(pmp_send_mail_with_buffers(client, buffer_json, buffer_json_len, null_data, 2, NULL, &untouched) ==
                  PMP_STATUS_NULL_PARAMETER &&
              last_error_contains("buffers[1].data is NULL but its len is 4"),
          "NULL buffer data with a length");
    CHECK(pmp_send_mail_with_buffers(client, buffer_json, buffer_json_len, buffers, 2, cancel, &untouched) ==
                  PMP_STATUS_CANCELLED &&
              untouched == (char *)0x1,
          "pmp_send_mail_with_buffers, cancelled before the call");
    CHECK(pmp_send_mail_with_buffers(NULL, buffer_json, buffer_json_len, buffers, 2, NULL, &untouched) ==
              PMP_STATUS_NULL_PARAMETER,
          "pmp_send_mail_with_buffers, NULL client");
    pmp_string_free(last_error());
    pmp_cancel_free(cancel);

    /* pmp_send_batch: results in input order, progress on the calling thread, bad input. */
    char batch[1024];
    snprintf(batch, sizeof batch,
             "[{\"from\":\"%s\",\"to\":[\"a@contoso.com\"],\"subject\":\"C batch 0\"},"
             "{\"from\":\"%s\",\"to\":[\"not-an-address\"],\"subject\":\"C batch 1\"},"
             "{\"from\":\"%s\",\"to\":[\"b@contoso.com\"],\"subject\":\"C batch 2\"}]",
             mailbox, mailbox, mailbox);
    batch_watch watch = {.caller = pthread_self(), .client = client};
    char *batch_result = NULL;
    CHECK(pmp_send_batch(client, (const uint8_t *)batch, strlen(batch), NULL, 0, watch_batch, &watch, NULL,
                         &batch_result) == PMP_STATUS_OK && batch_result != NULL,
          "pmp_send_batch");
    print_document("batch result", batch_result);
    CHECK(batch_result != NULL && strstr(batch_result, "\"total\":3,\"sent\":2,\"failed\":1") != NULL,
          "batch: counts");
    CHECK(batch_result != NULL && strstr(batch_result, "{\"index\":1,\"status\":\"failed\"") != NULL &&
              strstr(batch_result, "{\"index\":0,\"status\":\"sent\"") < strstr(batch_result, "{\"index\":2,"),
          "batch: items in input order, the bad one failed");
    CHECK(watch.calls >= 2 && watch.other_thread == 0 && watch.first_done == 0 && watch.last_done == 3 &&
              watch.total == 3,
          "batch: progress on the calling thread, first before any result, last at the end");
    CHECK(watch.refused_inside, "batch: a client call inside the progress callback is refused");
    pmp_string_free(batch_result);
    batch_result = (char *)0x1;
    CHECK(pmp_send_batch(client, (const uint8_t *)"{}", 2, NULL, 0, NULL, NULL, NULL, &batch_result) ==
                  PMP_STATUS_INVALID_ARGUMENT &&
              batch_result == (char *)0x1 && last_error_contains("JSON array"),
          "batch: not an array");
    const char *bad_options = "{\"maxConcurrent\":0}";
    CHECK(pmp_send_batch(client, (const uint8_t *)"[]", 2, (const uint8_t *)bad_options, strlen(bad_options), NULL,
                         NULL, NULL, &batch_result) == PMP_STATUS_INVALID_ARGUMENT &&
              last_error_contains("maxConcurrent"),
          "batch: bad options named");
    /* pmp_send_batch_with_buffers: one buffer list for the whole batch (copied when the call starts);
       two messages share a buffer, a bad index fails its own message only. */
    char buffer_batch[1024];
    snprintf(buffer_batch, sizeof buffer_batch,
             "[{\"from\":\"%s\",\"to\":[\"a@contoso.com\"],\"subject\":\"C batch buffers 0\","
             "\"attachments\":[{\"name\":\"batch-payload.bin\",\"buffer\":1}]},"
             "{\"from\":\"%s\",\"to\":[\"b@contoso.com\"],\"subject\":\"C batch buffers 1\","
             "\"attachments\":[{\"name\":\"batch-payload.bin\",\"buffer\":1}]},"
             "{\"from\":\"%s\",\"to\":[\"c@contoso.com\"],\"subject\":\"C batch buffers 2\","
             "\"attachments\":[{\"name\":\"none.bin\",\"buffer\":2}]}]",
             mailbox, mailbox, mailbox);
    batch_result = NULL;
    CHECK(pmp_send_batch_with_buffers(client, (const uint8_t *)buffer_batch, strlen(buffer_batch), buffers, 2, NULL,
                                      0, NULL, NULL, NULL, &batch_result) == PMP_STATUS_OK &&
              batch_result != NULL && strstr(batch_result, "\"total\":3,\"sent\":2,\"failed\":1") != NULL &&
              strstr(batch_result, "{\"index\":2,\"status\":\"failed\"") != NULL,
          "pmp_send_batch_with_buffers: a shared buffer, a bad index fails its message only");
    pmp_string_free(batch_result);
    pmp_cancel *batch_cancel = NULL;
    CHECK(pmp_cancel_new(&batch_cancel) == PMP_STATUS_OK, "batch: cancel handle");
    pmp_cancel_request(batch_cancel);
    batch_result = NULL;
    CHECK(pmp_send_batch(client, (const uint8_t *)batch, strlen(batch), NULL, 0, NULL, NULL, batch_cancel,
                         &batch_result) == PMP_STATUS_OK &&
              batch_result != NULL && strstr(batch_result, "\"sent\":0") != NULL &&
              strstr(batch_result, "\"cancelled\":3") != NULL,
          "batch: cancelled before the call, nothing sent, each message reported");
    pmp_string_free(batch_result);
    pmp_cancel_free(batch_cancel);
    pmp_client_free(client);

    /*
     * A wrong secret: Entra's AADSTS7000215 in the permission report (OK, authenticated:false)
     * and in send_mail's error document, neither of which may contain the secret. Both are
     * printed, so the suite's leak check reads them. The wrong secret is the right one plus a
     * suffix, so the suite's grep for the right secret also finds a leak of the wrong one.
     */
    char *secret = config_secret(config);
    CHECK(secret != NULL, "config has a client secret");
    char wrong_secret[256] = "";
    if (secret != NULL) snprintf(wrong_secret, sizeof wrong_secret, "%s-wrong", secret);
    char wrong_auth[512];
    snprintf(wrong_auth, sizeof wrong_auth, "{\"type\":\"clientSecret\",\"secret\":\"%s\"}", wrong_secret);
    char *wrong_config = secret != NULL ? with_auth(config, wrong_auth) : NULL;
    CHECK(wrong_config != NULL, "wrong-secret config built from the config's auth object");
    pmp_client *wrong_client = NULL;
    status = wrong_config != NULL ? client_new_str(wrong_config, &wrong_client) : PMP_STATUS_INVALID_ARGUMENT;
    CHECK(status == PMP_STATUS_OK && wrong_client != NULL, "pmp_client_new (wrong secret)");
    report = NULL;
    CHECK(pmp_test_permissions(wrong_client, NULL, 0, &report) == PMP_STATUS_OK, "pmp_test_permissions (wrong secret)");
    print_document("report", report);
    CHECK(report != NULL && strstr(report, "\"authenticated\":false") != NULL, "wrong secret: not authenticated");
    CHECK(report != NULL && strstr(report, "AADSTS7000215") != NULL, "wrong secret: AADSTS7000215 in the report");
    CHECK(report != NULL && strstr(report, wrong_secret) == NULL, "wrong secret: not in the report");
    pmp_string_free(report);
    result = NULL;
    CHECK(pmp_send_mail(wrong_client, (const uint8_t *)message, strlen(message), &result) ==
              PMP_STATUS_AUTHENTICATION_FAILED,
          "pmp_send_mail (wrong secret) fails");
    CHECK(result == NULL, "wrong secret: no result");
    CHECK(last_error_contains("AADSTS7000215"), "wrong secret: AADSTS7000215 in the error document");
    CHECK(last_error_lacks(wrong_secret), "wrong secret: not in the error document");
    pmp_client_free(wrong_client);
    free(wrong_config);
    free(secret);

    /* A host signer that refuses: PMP_STATUS_SIGNER, and the callback was called. */
    size_t ca_len = 0;
    char *ca_pem = read_file(argv[3], &ca_len);
    static unsigned char der[8192];
    size_t der_len = ca_pem != NULL ? pem_to_der(ca_pem, der, sizeof der) : 0;
    free(ca_pem);
    CHECK(der_len > 100, "decode a certificate for the signer");
    char *signer_config = with_auth(config, "{\"type\":\"signer\"}");
    CHECK(signer_config != NULL, "signer config built from the config's auth object");
    int calls = 0;
    pmp_client *signed_client = NULL;
    status = signer_config != NULL
                 ? pmp_client_new_with_signer((const uint8_t *)signer_config, strlen(signer_config), der, der_len,
                                              refusing_signer, &calls, &signed_client)
                 : PMP_STATUS_INVALID_ARGUMENT;
    CHECK(status == PMP_STATUS_OK && signed_client != NULL, "pmp_client_new_with_signer");
    if (status != PMP_STATUS_OK) pmp_string_free(last_error());
    report = NULL;
    CHECK(pmp_test_permissions(signed_client, NULL, 0, &report) == PMP_STATUS_SIGNER, "refusing signer");
    print_document("report", report);
    pmp_string_free(report);
    CHECK(calls == 1, "signer callback called once");
    CHECK(last_error_contains("\"category\":\"signer\""), "signer error document");
    pmp_client_free(signed_client);
    free(signer_config);

    /* A host assertion callback: asked with the config's client id and the token endpoint; a
       refusal is PMP_STATUS_SIGNER with its number, a non-JWT answer PMP_STATUS_CREDENTIAL. */
    char *assertion_config = with_auth(config, "{\"type\":\"clientAssertion\"}");
    CHECK(assertion_config != NULL, "assertion config built from the config's auth object");
    CHECK(pmp_client_new_with_assertion_callback((const uint8_t *)"{}", 2, NULL, NULL, &signed_client) ==
              PMP_STATUS_NULL_PARAMETER,
          "NULL assertion callback");
    assertion_host host = {0};
    pmp_client *assertion_client = NULL;
    status = assertion_config != NULL
                 ? pmp_client_new_with_assertion_callback((const uint8_t *)assertion_config, strlen(assertion_config),
                                                          host_assertion, &host, &assertion_client)
                 : PMP_STATUS_INVALID_ARGUMENT;
    CHECK(status == PMP_STATUS_OK && assertion_client != NULL, "pmp_client_new_with_assertion_callback");
    report = NULL;
    CHECK(pmp_test_permissions(assertion_client, NULL, 0, &report) == PMP_STATUS_SIGNER, "refusing assertion callback");
    CHECK(host.calls == 1, "assertion callback called once");
    CHECK(host.client_id[0] != '\0' && assertion_config != NULL && strstr(assertion_config, host.client_id) != NULL,
          "assertion callback gets the config's client id");
    CHECK(strncmp(host.token_url, "https://", 8) == 0 && strstr(host.token_url, "/oauth2/v2.0/token") != NULL,
          "assertion callback gets the token endpoint");
    CHECK(last_error_contains("(returned 9)"), "assertion refusal: its number in the error document");
    host.answer = "not-a-jwt";
    CHECK(pmp_test_permissions(assertion_client, NULL, 0, &report) == PMP_STATUS_CREDENTIAL, "non-JWT assertion");
    CHECK(last_error_contains("not a JWT"), "non-JWT assertion: named in the error document");
    pmp_client_free(assertion_client);
    free(assertion_config);
    free(config);

    google_section(argv[4], argv[5]);

summary:
    CHECK(pmp_set_log_callback(NULL, NULL, PMP_LOG_LEVEL_ERROR) == PMP_STATUS_OK, "pmp_set_log_callback(NULL)");
    printf("checks run: %d\n", passed + failed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
