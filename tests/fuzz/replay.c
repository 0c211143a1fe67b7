/* replay.c: run LLVMFuzzerTestOneInput over corpus files without libFuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Usage: replay FILE_OR_DIR...
 * Every regular file given, or found directly inside a given directory,
 * is read and passed to the harness once. The harness abort()s on a
 * broken invariant, so a zero exit status means the whole corpus passed.
 * This lets make check replay tests/fuzz/corpus with gcc alone.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long replayed;

static int replay_file(const char *path)
{
    FILE *f;
    unsigned char *buf;
    long size;
    size_t got;

    f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0) {
        perror(path);
        fclose(f);
        return 1;
    }
    /* One more byte so that an empty file still gets a valid pointer. */
    buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(f);
        return 1;
    }
    got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        fprintf(stderr, "%s: short read\n", path);
        free(buf);
        return 1;
    }
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    ++replayed;
    return 0;
}

static int replay_path(const char *path)
{
    struct stat st;
    DIR *dir;
    struct dirent *de;
    int failed = 0;

    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        return replay_file(path);
    }
    dir = opendir(path);
    if (!dir) {
        perror(path);
        return 1;
    }
    while ((de = readdir(dir)) != NULL) {
        char child[4096];
        struct stat cst;

        if (de->d_name[0] == '.') {
            continue;
        }
        if ((size_t)snprintf(child, sizeof(child), "%s/%s", path,
                             de->d_name) >= sizeof(child)) {
            failed = 1;
            continue;
        }
        if (stat(child, &cst) == 0 && S_ISREG(cst.st_mode)) {
            failed |= replay_file(child);
        }
    }
    closedir(dir);
    return failed;
}

int main(int argc, char **argv)
{
    int failed = 0;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; ++i) {
        failed |= replay_path(argv[i]);
    }
    printf("replayed %lu inputs%s\n", replayed, failed ? " (with errors)"
                                                        : "");
    return failed ? 1 : 0;
}
