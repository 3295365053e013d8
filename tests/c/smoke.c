/* Smoke test: the committed header compiles and the library answers. */
#include <stdio.h>
#include <string.h>
#include "pmp_mail.h"

int main(void) {
  const char *version = pmp_version();
  if (version == NULL || strlen(version) == 0) {
    printf("0 passed, 1 failed\n");
    return 1;
  }
  printf("pmp_version: %s\n1 passed, 0 failed\n", version);
  return 0;
}
