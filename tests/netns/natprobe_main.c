/* natprobe: the model side of the kernel-vs-model NAT suite (tests/netns).
 *
 * Reads the probe file (tests/netns/probes.txt: "kinds", "timeouts" and
 * probe lines, see there) and prints one line per probe and kind pair:
 *   name kind1 kind2 result tokens...
 * in the order run.sh's kernel side prints the same lines. Exit 2 with a
 * message naming the file and line on a bad probe file.
 *
 * Usage: natprobe PROBES_FILE
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natprobe.h"

#define MAX_KINDS 16

typedef struct Spec {
    char *kinds[MAX_KINDS]; /* the "kinds" line */
    int nkinds;
    NatProbeOpts opts; /* the "timeouts" line */
} Spec;

static void die(const char *path, int line, const char *msg)
{
    fprintf(stderr, "%s:%d: %s\n", path, line, msg);
    exit(2);
}

static void run_one(const char *name, const char *k1, const char *k2, const char *steps,
                    const Spec *s, const char *path, int line)
{
    GError *err = NULL;
    char *res = natprobe_run(k1, k2, steps, &s->opts, 1, &err);
    if (!res) die(path, line, err->message);
    printf("%s %s %s %s\n", name, k1, k2, res);
    g_free(res);
}

/* A probe line: name, then "each" (every kind behind router 1, router 2
 * public), "pairs" (every ordered pair) or one kind, then the steps. */
static void run_line(gchar **w, const Spec *s, const char *path, int line)
{
    if (!w[1] || !w[2]) die(path, line, "expected: name each|pairs|KIND steps...");
    char *steps = g_strjoinv(" ", w + 2);
    if (strcmp(w[1], "each") == 0) {
        for (int i = 0; i < s->nkinds; i++)
            run_one(w[0], s->kinds[i], "public", steps, s, path, line);
    } else if (strcmp(w[1], "pairs") == 0) {
        for (int i = 0; i < s->nkinds; i++)
            for (int j = 0; j < s->nkinds; j++)
                run_one(w[0], s->kinds[i], s->kinds[j], steps, s, path, line);
    } else {
        run_one(w[0], w[1], "public", steps, s, path, line);
    }
    g_free(steps);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: natprobe PROBES_FILE\n");
        return 2;
    }
    gchar *text = NULL;
    GError *err = NULL;
    if (!g_file_get_contents(argv[1], &text, NULL, &err)) {
        fprintf(stderr, "natprobe: %s\n", err->message);
        return 2;
    }
    Spec s = {0};
    natprobe_opts_default(&s.opts);
    gchar **lines = g_strsplit(text, "\n", -1);
    for (int ln = 0; lines[ln]; ln++) {
        gchar *hash = strchr(lines[ln], '#');
        if (hash) *hash = '\0';
        gchar **w = g_strsplit_set(g_strstrip(lines[ln]), " \t", -1);
        int n = 0;
        for (int i = 0; w[i]; i++)
            if (*w[i]) w[n++] = w[i]; /* drop empty words (repeated blanks) */
        w[n] = NULL;
        if (n == 0 || strcmp(w[0], "known") == 0) {
            /* known differences are the table's business */
        } else if (strcmp(w[0], "kinds") == 0) {
            for (int i = 1; i < n && s.nkinds < MAX_KINDS; i++) {
                if (!natprobe_kind_is_known(w[i])) die(argv[1], ln + 1, "unknown kind");
                s.kinds[s.nkinds++] = g_strdup(w[i]);
            }
        } else if (strcmp(w[0], "timeouts") == 0) {
            if (n != 3) die(argv[1], ln + 1, "expected: timeouts UNREPLIED_S STREAM_S");
            s.opts.udp_unreplied_ns = timens_from_s(atof(w[1]));
            s.opts.udp_stream_ns = timens_from_s(atof(w[2]));
        } else {
            run_line(w, &s, argv[1], ln + 1);
        }
        g_strfreev(w);
    }
    g_strfreev(lines);
    g_free(text);
    for (int i = 0; i < s.nkinds; i++)
        g_free(s.kinds[i]);
    return 0;
}
