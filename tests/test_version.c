/* test_version.c - every binary we build answers --version with "NAME VERSION" and exit 0 */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#if !defined(LSTD_BIN_DIR) || !defined(LSTD_VERSION)
#error "LSTD_BIN_DIR (where the executables are) and LSTD_VERSION must be defined by the build"
#endif

#define RUN_TIMEOUT_MS 10000

int main(void)
{
    static const char *const names[] = {"lstd",           "lst",
                                        "lstd-verify",    "lstd-backup",
                                        "lstd-inspect",   "lstd-bench-ledger",
                                        "lstd-bench-rpc", "lstd-bench-flood",
                                        "lstd-vectors",   "lstd-gen-types"};
    /* the version comes from CMakeLists.txt's project(): digits and dots */
    CHECK(strchr(LSTD_VERSION, '.') != NULL &&
          strspn(LSTD_VERSION, "0123456789.") == strlen(LSTD_VERSION));
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[1024], want[128];
        char *out = NULL, *err = NULL;
        snprintf(path, sizeof path, "%s/%s", LSTD_BIN_DIR, names[i]);
        snprintf(want, sizeof want, "%s %s\n", names[i], LSTD_VERSION);
        int code =
            test_run((const char *const[]){path, "--version", NULL}, RUN_TIMEOUT_MS, &out, &err);
        if (code != 0 || strcmp(out, want) != 0 || err[0] != '\0') {
            fprintf(stderr, "test_version: %s --version: exit %d, stdout \"%s\", stderr \"%s\"\n",
                    names[i], code, out, err);
            test_failures++;
        }
        free(out);
        free(err);
    }
    /* lst takes it as a global flag, anywhere, and does nothing else (no server is asked) */
    char *out = NULL;
    CHECK(test_run((const char *const[]){LSTD_BIN_DIR "/lst", "--endpoint", "tcp://127.0.0.1:1",
                                         "pool", "--version", NULL},
                   RUN_TIMEOUT_MS, &out, NULL) == 0);
    CHECK(out != NULL && strcmp(out, "lst " LSTD_VERSION "\n") == 0);
    free(out);
    /* lstd: also with other flags (the stop is before anything is opened or bound) */
    CHECK(test_run((const char *const[]){LSTD_BIN_DIR "/lstd", "--data", "/nonexistent/lstd",
                                         "--version", NULL},
                   RUN_TIMEOUT_MS, &out, NULL) == 0);
    CHECK(out != NULL && strcmp(out, "lstd " LSTD_VERSION "\n") == 0);
    free(out);
    return test_finish("test_version");
}
