/* SPDX-License-Identifier: MIT */
/* config.h - PTRECLAIM_CONF (config.c). */
#ifndef PTRECLAIM_CONFIG_H
#define PTRECLAIM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "platform.h"

struct pr_conf {
	bool stats;		/* print the summary at exit */
	bool profile;		/* record purge call sites */
	size_t ledger_max;	/* bytes of ledger memory at most */
	unsigned profile_top;	/* call sites in the report */
	bool jemalloc;		/* attach the jemalloc adapter at start */
	bool fence;		/* fence:auto (true) or fence:off */
	unsigned fence_rate;	/* fence windows per second at most */
	unsigned fence_batch;	/* 2 MiB regions per window at most */
	unsigned fence_delay_ms; /* a region must stay complete this long */
	int hint;		/* PR_HINT_OFF, _AUTO, _ON or _ALWAYS */
	bool hint_align;	/* place isolated large mappings on 2 MiB */
	size_t hint_min;	/* smallest mapping hinted */
	bool hint_all;		/* hint_scope:all - not only the allocator's */
	bool hint_split;	/* split huge folios a purge left partly mapped */
	bool advice;		/* advice:auto (true) or advice:off */
	unsigned advice_rate;	/* advice calls per second at most */
	unsigned advice_delay_ms; /* a region must stay unchanged this long */
};
enum { PR_HINT_OFF, PR_HINT_AUTO, PR_HINT_ON, PR_HINT_ALWAYS };
pr_hidden const char *pr_hint_mode_name(int mode);

typedef void (*pr_warn_fn)(const char *msg);
pr_hidden int pr_conf_parse(const char *text, struct pr_conf *conf,
			    pr_warn_fn warn);
pr_hidden void pr_conf_defaults(struct pr_conf *conf);
extern pr_hidden struct pr_conf pr_conf;

#endif /* PTRECLAIM_CONFIG_H */
