#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np */
#endif
#include <string.h>
#include "rl_errno.h"

const char *rl_errno_name(int code) { return strerrorname_np(code); }
