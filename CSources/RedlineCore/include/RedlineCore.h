/*
 * RedlineCore.h - the C API of Redline, for C and C++ strategies and for the
 * Swift orchestrator. One header per concept; this one includes them all.
 */
#ifndef REDLINE_CORE_H
#define REDLINE_CORE_H

#include "rl_platform.h"
#include "rl_result.h"
#include "rl_fixed.h"
#include "rl_freeze.h"
#include "rl_events.h"
#include "rl_spsc.h"
#include "rl_symbols.h"
#include "rl_order_rules.h"
#include "rl_position_table.h"
#include "rl_counters.h"
#include "rl_engine.h"
#include "rl_clock.h"
#include "rl_numa.h"
#include "rl_errno.h"
#include "rl_runtime.h"
#include "rl_crc32c.h"
#include "rl_journal.h"

#endif /* REDLINE_CORE_H */
