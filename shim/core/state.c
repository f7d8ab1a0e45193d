/* SPDX-License-Identifier: MIT */
/*
 * state.c - the two words every layer may read: whether the ledger can be
 * used, and whether this thread is inside the shim's own work.
 */
#include "core.h"

int pr_ready;
__thread int pr_busy __attribute__((tls_model("initial-exec")));
