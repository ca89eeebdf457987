#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np */
#endif
#include <errno.h>
#include <string.h>
#include "rl_errno.h"

const char *rl_errno_name(int code) {
    if (code <= 0) return NULL;                /* "0" is no label: E0, as the table gave */
    if (code == ENOTSUP) return "ENOTSUP";     /* glibc names 95 EOPNOTSUPP; the label has always been ENOTSUP */
    return strerrorname_np(code);
}
