/*
 * Description: an open that recovers to last good and goes on in the tail
 * segment sets the segments after it aside (renamed *.damaged), and makes
 * those renames durable before it returns, before any new record counts as
 * durable. Once the MANIFEST's rewrite synced the directory; rewritten in
 * place it does not, and a power loss could bring a set-aside segment back
 * under the name it had, after new records took its sequences: a strict
 * scan then accepted the new records spliced to the old history's (helper-48).
 * Built with -Wl,--wrap=renameat2,--wrap=rename,--wrap=fsync: each rename to
 * *.damaged and each directory sync is numbered in order.
 * Built and run by scripts/test.sh. Exit: 0 pass, 1 fail.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "RedlineCore.h"
#include "journal_test_support.h"

static int clock_now, last_set_aside, last_dir_sync, set_asides;

int __real_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
int __wrap_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    int rc = __real_renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
    if (rc == 0 && strstr(newpath, ".damaged") != NULL) last_set_aside = ++clock_now, set_asides++;
    return rc;
}
int __real_rename(const char *oldpath, const char *newpath);
int __wrap_rename(const char *oldpath, const char *newpath) {
    int rc = __real_rename(oldpath, newpath);
    if (rc == 0 && strstr(newpath, ".damaged") != NULL) last_set_aside = ++clock_now, set_asides++;
    return rc;
}
int __real_fsync(int fd);
int __wrap_fsync(int fd) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) last_dir_sync = ++clock_now;
    return __real_fsync(fd);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/redline-journal-set-aside";
    rl_journal_options_t options;
    rl_journal_t *j = open_small_journal(dir, &options);
    if (j == NULL) return 1;
    for (int i = 0; i < 600; i++) push_adjust(j);
    CHECK(rl_journal_flush(j, 10000) == 0, "flush");
    rl_journal_close(j);
    /* Damage a record inside the second segment. */
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort), k = 0;
    char second[1200] = "";
    for (int i = 0; i < n; i++) {
        if (strncmp(names[i]->d_name, "segment-", 8) == 0 && ++k == 2) {
            snprintf(second, sizeof(second), "%s/%s", dir, names[i]->d_name);
        }
        free(names[i]);
    }
    free(names);
    CHECK(k >= 3, "only %d segments", k);
    int fd = open(second, O_RDWR);
    uint8_t byte = 0;
    CHECK(fd >= 0 && pread(fd, &byte, 1, 8000) == 1, "read %s", second);
    byte ^= 0x5a;
    CHECK(pwrite(fd, &byte, 1, 8000) == 1, "damage %s", second);
    close(fd);
    rl_journal_scan_result_t result;
    CHECK(rl_journal_scan(dir, 0, true, NULL, NULL, &result) == 0 && result.corrupt && result.tail_segment[0] != 0,
          "recover to last good: %s", result.damage);
    /* The open that goes on in the tail sets the later segments aside. */
    rl_journal_t *w = NULL;
    int rc = rl_journal_open(dir, &options, result.last_seq + 1, result.tail_segment, result.tail_valid_end, -1, &w);
    CHECK(rc == 0, "open at the tail: %d", rc);
    CHECK(set_asides >= 1, "no segment set aside");
    CHECK(last_dir_sync > last_set_aside, "the directory was last synced at step %d, before the last set-aside at %d",
          last_dir_sync, last_set_aside);
    if (rc == 0) {
        CHECK(rl_journal_start(w) == 0, "start");
        for (int i = 0; i < 50; i++) push_adjust(w);
        CHECK(rl_journal_flush(w, 10000) == 0, "flush after recovery");
        rl_journal_close(w);
    }
    CHECK(rl_journal_scan(dir, 0, false, NULL, NULL, &result) == 0 && !result.corrupt, "a clean journal after: %s",
          result.damage);
    if (failures == 0) printf("PASS journal_set_aside_sync: %d set aside, the directory synced after\n", set_asides);
    return failures == 0 ? 0 : 1;
}
