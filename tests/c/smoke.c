/*
 * Smoke test: the header compiles, the library answers, and both are the same version: the
 * header's PMP_VERSION_* macros (generated from Cargo.toml) equal what pmp_version() returns.
 * Run by the C suite (tools/Invoke-CAbiTests.ps1) and, built from the unpacked C SDK, by
 * tools/Test-CSdkPackage.ps1. Prints one line per check and "N passed, M failed".
 */
#include <stdio.h>
#include <string.h>
#include "pmp_mail.h"

#if !defined(PMP_VERSION_MAJOR) || !defined(PMP_VERSION_MINOR) || !defined(PMP_VERSION_PATCH) || \
    !defined(PMP_VERSION_STRING)
#error "pmp_mail.h has no PMP_VERSION_* macros"
#endif

static int passed = 0, failed = 0;

static void check(int ok, const char *name) {
  if (ok) {
    passed++;
    printf("ok   %s\n", name);
  } else {
    failed++;
    printf("FAIL %s\n", name);
  }
}

int main(void) {
  const char *version = pmp_version();
  check(version != NULL && strlen(version) > 0, "pmp_version");
  if (version == NULL) version = "";
  printf("pmp_version: %s; header: %s (%d.%d.%d)\n", version, PMP_VERSION_STRING, PMP_VERSION_MAJOR,
         PMP_VERSION_MINOR, PMP_VERSION_PATCH);
  check(strcmp(version, PMP_VERSION_STRING) == 0, "PMP_VERSION_STRING is pmp_version()");
  /* MAJOR.MINOR.PATCH is the version without a pre-release or build suffix. */
  char numbers[64];
  snprintf(numbers, sizeof numbers, "%d.%d.%d", PMP_VERSION_MAJOR, PMP_VERSION_MINOR, PMP_VERSION_PATCH);
  size_t n = strlen(numbers);
  check(strncmp(version, numbers, n) == 0 && (version[n] == '\0' || version[n] == '-' || version[n] == '+'),
        "PMP_VERSION_MAJOR.MINOR.PATCH is pmp_version()");
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
