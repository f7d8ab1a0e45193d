/* SPDX-License-Identifier: MIT */
/*
 * plot.c - `ptreclaim plot [--label NAME] FILE... -o OUT.svg [--title T]`:
 * VmPTE, need and RSS over time from recordings of
 * `ptreclaim stat PID --watch 1 --json`, as a small SVG written here (no
 * dependency): page tables on top (VmPTE solid, need dashed), RSS below;
 * one colour per series (a file, or a PID of a file with several), time
 * from each series' first sample.  Samples with an error or without need
 * are left out.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#define MAX_SERIES	8
#define MAX_POINTS	100000
#define W		820
#define PANEL_H		230
#define LEFT		70
#define RIGHT		20
#define TOP		50

struct point {
	double t, vmpte_kb, need_kb, rss_kb;
};

struct series {
	char label[96];
	int file;		/* which FILE argument */
	long pid;
	size_t n;
	struct point *pt;
};

static struct series series[MAX_SERIES];
static size_t nseries;

static const char *const colours[MAX_SERIES] = {
	"#d62728", "#1f77b4", "#2ca02c", "#9467bd",
	"#ff7f0e", "#8c564b", "#e377c2", "#17becf",
};

/* The number after "key": in the object text s (before its "shim"), or
 * NAN if absent or null. */
static double field(const char *s, const char *end, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(s, pat);
	if (!p || p >= end)
		return NAN;
	p += strlen(pat);
	return !strncmp(p, "null", 4) ? NAN : strtod(p, NULL);
}

static struct series *series_for(int file, const char *label, long pid,
				  bool many)
{
	for (size_t i = 0; i < nseries; i++)
		if (series[i].file == file && series[i].pid == pid)
			return &series[i];
	if (nseries == MAX_SERIES)
		return NULL;
	struct series *s = &series[nseries++];

	snprintf(s->label, sizeof(s->label), many ? "%s (pid %ld)" : "%s",
		 label, pid);
	s->file = file;
	s->pid = pid;
	s->pt = calloc(MAX_POINTS, sizeof(*s->pt));
	return s->pt ? s : NULL;
}

/* One process object of a sample line: from its "{"pid":" to the next. */
static void add_object(int file, const char *label, const char *o,
		       const char *end, bool many)
{
	const char *shim = strstr(o, "\"shim\":");
	const char *stop = shim && shim < end ? shim : end;
	struct point p = {
		field(o, stop, "time"), field(o, stop, "vmpte_kb"),
		field(o, stop, "need_kb"), field(o, stop, "rss_kb"),
	};
	struct series *s;

	if (strstr(o, "\"error\":") && strstr(o, "\"error\":") < stop)
		return;
	if (isnan(p.t) || isnan(p.vmpte_kb) || isnan(p.need_kb) ||
	    isnan(p.rss_kb))
		return;
	s = series_for(file, label, (long)field(o, stop, "pid"), many);
	if (s && s->n < MAX_POINTS)
		s->pt[s->n++] = p;
}

static int read_file(int file, const char *path, const char *label)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;

	if (!f) {
		fprintf(stderr, "ptreclaim plot: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		bool many = line[0] == '[';

		for (char *o = strstr(line, "{\"pid\":"); o;) {
			char *next = strstr(o + 1, "{\"pid\":");

			add_object(file, label, o, next ? next : o + strlen(o),
				   many);
			o = next;
		}
	}
	free(line);
	fclose(f);
	return 0;
}

/* A step of 1, 2 or 5 times a power of ten: about five ticks. */
static double nice_step(double range)
{
	double raw = range / 5, mag = pow(10, floor(log10(raw)));

	if (raw / mag >= 5)
		return 5 * mag;
	return raw / mag >= 2 ? 2 * mag : mag;
}

struct axis {
	double lo, hi;		/* data range */
	int top, h;		/* pixels */
};

static double sx(double t, double tmax)
{
	return LEFT + (W - LEFT - RIGHT) * (tmax > 0 ? t / tmax : 0);
}

static double sy(const struct axis *a, double v)
{
	return a->top + a->h - a->h * (v - a->lo) / (a->hi - a->lo);
}

static void frame(FILE *f, const struct axis *a, double tmax,
		  const char *ylabel)
{
	double ys = nice_step(a->hi - a->lo), xs = nice_step(tmax);

	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n",
		LEFT, a->top, W - LEFT - RIGHT, a->h);
	for (double v = 0; v <= a->hi + 1e-9; v += ys)
		fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
			   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
			LEFT, W - RIGHT, sy(a, v), sy(a, v), LEFT - 4,
			sy(a, v) + 4, v);
	for (double t = 0; t <= tmax + 1e-9; t += xs)
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
			sx(t, tmax), a->top + a->h + 14, t);
	fprintf(f, "<text x=\"%d\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">%s</text>\n",
		14, a->top + a->h / 2, a->top + a->h / 2, ylabel);
}

/* One line of one series: field at offset off, scaled by div. */
static void polyline(FILE *f, const struct series *s, const struct axis *a,
		     double tmax, size_t off, double div, const char *colour,
		     const char *dash)
{
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s points=\"",
		colour, dash);
	for (size_t i = 0; i < s->n; i++) {
		double v = *(const double *)((const char *)&s->pt[i] + off);

		fprintf(f, "%.1f,%.1f ", sx(s->pt[i].t - s->pt[0].t, tmax),
			sy(a, v / div));
	}
	fprintf(f, "\"/>\n");
}

static double max_of(size_t off, double div, double *tmax)
{
	double m = 0;

	*tmax = 0;
	for (size_t k = 0; k < nseries; k++)
		for (size_t i = 0; i < series[k].n; i++) {
			const struct point *p = &series[k].pt[i];
			double v = *(const double *)((const char *)p + off) / div;

			m = v > m ? v : m;
			if (p->t - series[k].pt[0].t > *tmax)
				*tmax = p->t - series[k].pt[0].t;
		}
	return m > 0 ? m * 1.05 : 1;
}

static void legend(FILE *f, int y)
{
	int x = LEFT;

	for (size_t k = 0; k < nseries; k++, x += 190)
		fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>"
			   "<text x=\"%d\" y=\"%d\">%s</text>\n",
			x, x + 20, y - 4, y - 4, colours[k], x + 24, y,
			series[k].label);
	fprintf(f, "<text x=\"%d\" y=\"%d\">solid: VmPTE, dashed: need</text>\n",
		W - RIGHT - 190, y);
}

static void write_svg(FILE *f, const char *title)
{
	double tmax, tmax2;
	struct axis pt = { 0, max_of(offsetof(struct point, vmpte_kb), 1, &tmax),
			   TOP + 20, PANEL_H };
	struct axis rss = { 0, max_of(offsetof(struct point, rss_kb), 1024, &tmax2),
			    TOP + 20 + PANEL_H + 50, PANEL_H };

	tmax = tmax > 0 ? tmax : 1;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">\n"
		   "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
		   "<text x=\"%d\" y=\"20\" font-size=\"14\">%s</text>\n",
		W, rss.top + rss.h + 40, LEFT, title);
	legend(f, 40);
	frame(f, &pt, tmax, "page tables (KiB)");
	frame(f, &rss, tmax, "RSS (MiB)");
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">seconds</text>\n",
		(W + LEFT) / 2, rss.top + rss.h + 30);
	for (size_t k = 0; k < nseries; k++) {
		polyline(f, &series[k], &pt, tmax,
			 offsetof(struct point, vmpte_kb), 1, colours[k], "");
		polyline(f, &series[k], &pt, tmax,
			 offsetof(struct point, need_kb), 1, colours[k],
			 " stroke-dasharray=\"5,3\"");
		polyline(f, &series[k], &rss, tmax,
			 offsetof(struct point, rss_kb), 1024, colours[k], "");
	}
	fprintf(f, "</svg>\n");
}

int pr_cmd_plot(int argc, char **argv)
{
	const char *out = NULL, *title = "VmPTE, need and RSS", *label = NULL;
	int files = 0;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		bool val = i + 1 < argc;

		if (!strcmp(argv[i], "-o") && val) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--title") && val) {
			title = argv[++i];
		} else if (!strcmp(argv[i], "--label") && val) {
			label = argv[++i];
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "ptreclaim plot: bad argument %s\n",
				argv[i]);
			return pr_cli_usage(stderr);
		} else {
			if (read_file(files, argv[i], label ? label : argv[i]))
				return 1;
			label = NULL;
			files++;
		}
	}
	if (!out || !files) {
		fprintf(stderr, "ptreclaim plot: give FILE... and -o OUT.svg\n");
		return pr_cli_usage(stderr);
	}
	if (!nseries) {
		fprintf(stderr, "ptreclaim plot: no samples in the files\n");
		return 1;
	}
	f = fopen(out, "we");
	if (!f) {
		fprintf(stderr, "ptreclaim plot: %s: %s\n", out, strerror(errno));
		return 1;
	}
	write_svg(f, title);
	return fclose(f) ? 1 : 0;
}
