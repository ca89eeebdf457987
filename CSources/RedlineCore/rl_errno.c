#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np */
#endif
#include <errno.h>
#include <string.h>
#include "rl_errno.h"
#include "rl_journal.h"

const char *rl_errno_name(int code) {
    if (code <= 0) return NULL;                /* "0" is no label: E0, as the table gave */
    if (code == ENOTSUP) return "ENOTSUP";     /* glibc names 95 EOPNOTSUPP; the label has always been ENOTSUP */
    if (code == RL_JOURNAL_STALLED) return "ETIMEDOUT"; /* a stalled journal commit (rl_journal_stalled) */
    return strerrorname_np(code);
}
