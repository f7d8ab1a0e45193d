/* SPDX-License-Identifier: MIT */
/*
 * internal.h - every internal header at once, for the unit tests that
 * reach the shim's hidden internals.  Shim files include only the headers
 * of the layers they use (platform.h, config.h, core.h, strategy.h,
 * jemalloc.h, hint.h).
 */
#ifndef PTRECLAIM_INTERNAL_H
#define PTRECLAIM_INTERNAL_H

#include "platform.h"
#include "config.h"
#include "core.h"
#include "strategy.h"
#include "jemalloc.h"
#include "hint.h"

#endif /* PTRECLAIM_INTERNAL_H */
