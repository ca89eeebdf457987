/*
 * rl_errno.h - the symbolic name of an errno ("ENOSPC"), for log lines and
 * metric labels (journal_errors_total{errno}).
 */
#ifndef RL_ERRNO_H
#define RL_ERRNO_H

#include "rl_platform.h"

RL_EXTERN_C_BEGIN

/* The C library's name for `code`, or NULL for a code it does not know;
 * RL_JOURNAL_STALLED (rl_journal.h) is named ETIMEDOUT. */
const char *rl_errno_name(int code);

RL_EXTERN_C_END

#endif /* RL_ERRNO_H */
