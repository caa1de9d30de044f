/* latency: region, coordinate and matrix latency models (latency.h).
 *
 * Layer: sim/net. Region and matrix models are an n x n table of one-way
 * delays in ns (8 bytes per pair: a 2,000-position matrix is 32 MB);
 * coordinate models keep (x, y, height) per position and compute the
 * distance per call (a square root per packet crossing the core), so they
 * scale to any number of positions.
 * Sources: region delays are rounded halves of typical inter-region RTTs
 * (public cloud region-to-region pings such as the AWS matrix in
 * relab/hotstuff's aws.csv); the coordinate formula is SimGrid's
 * VivaldiZone::get_local_route; the RTT-halving is hotstuff's latencygen.
 */
#include "sim/net/latency.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "protocol/base/check.h"

/* Largest RTT or coordinate magnitude a file may give, ms (1000 s). Far above
 * any Internet path, and low enough that every delay derived from it fits a
 * TimeNs: a coordinate pair gives at most sqrt(8) + 2 times this. */
#define LATENCY_MS_MAX 1e6

struct Latency {
    LatencyKind kind; /* which model */
    uint32_t n;       /* positions */
    char **names;     /* n labels or NULL (owned) */
    double *coords;   /* coords: x, y, height per position, ms */
    TimeNs *matrix;   /* region/matrix: one-way delay [a * n + b], ns */
};

G_DEFINE_QUARK(skysim-latency-error-quark, latency_error)

/* ---- region model ------------------------------------------------------- */

enum { NREGIONS = 8 };

static const char *const region_names[NREGIONS] = {
    "na-east", "na-west", "south-america", "europe", "africa", "asia-south", "asia-east", "oceania",
};

/* One-way delays in ms: the diagonal is within a region (between two
 * metro areas), off the diagonal between regions. Symmetric. */
static const uint16_t region_ms[NREGIONS][NREGIONS] = {
    /*            nae  naw   sa   eu   af  asS  asE   oc */
    /* nae */ {8, 32, 60, 40, 115, 100, 80, 100},
    /* naw */ {32, 10, 90, 70, 145, 110, 55, 70},
    /* sa  */ {60, 90, 15, 100, 170, 150, 130, 155},
    /* eu  */ {40, 70, 100, 10, 80, 60, 115, 140},
    /* af  */ {115, 145, 170, 80, 20, 140, 170, 200},
    /* asS */ {100, 110, 150, 60, 140, 20, 45, 75},
    /* asE */ {80, 55, 130, 115, 170, 45, 15, 55},
    /* oc  */ {100, 70, 155, 140, 200, 75, 55, 10},
};

Latency *latency_region_new(void)
{
    Latency *m = g_new0(Latency, 1);
    m->kind = LATENCY_REGION;
    m->n = NREGIONS;
    m->names = g_new0(char *, NREGIONS);
    m->matrix = g_new(TimeNs, NREGIONS * NREGIONS);
    for (int a = 0; a < NREGIONS; a++) {
        m->names[a] = g_strdup(region_names[a]);
        for (int b = 0; b < NREGIONS; b++) {
            m->matrix[a * NREGIONS + b] = (TimeNs)region_ms[a][b] * TIMENS_MS;
        }
    }
    return m;
}

Latency *latency_region_table_new(const char *const *names, uint32_t n, const TimeNs *delay_ns)
{
    CHECK(n > 0, "region table without regions");
    Latency *m = g_new0(Latency, 1);
    m->kind = LATENCY_REGION;
    m->n = n;
    m->names = g_new0(char *, n);
    m->matrix = g_new(TimeNs, (size_t)n * n);
    for (uint32_t a = 0; a < n; a++) m->names[a] = g_strdup(names[a]);
    for (size_t i = 0; i < (size_t)n * n; i++) {
        CHECK(delay_ns[i] >= 0, "region delay [%zu] = %" G_GINT64_FORMAT, i, delay_ns[i]);
        m->matrix[i] = delay_ns[i];
    }
    return m;
}

void latency_free(Latency *m)
{
    if (!m) return;
    if (m->names) {
        for (uint32_t i = 0; i < m->n; i++) g_free(m->names[i]);
        g_free(m->names);
    }
    g_free(m->coords);
    g_free(m->matrix);
    g_free(m);
}

LatencyKind latency_kind(const Latency *m) { return m->kind; }
uint32_t latency_size(const Latency *m) { return m->n; }

const char *latency_position_name(const Latency *m, uint32_t pos)
{
    return m->names && pos < m->n ? m->names[pos] : NULL;
}

bool latency_position_find(const Latency *m, const char *name, uint32_t *out)
{
    for (uint32_t i = 0; m->names && i < m->n; i++) {
        if (m->names[i] && strcmp(m->names[i], name) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

TimeNs latency_one_way(const Latency *m, uint32_t a, uint32_t b)
{
    CHECK(a < m->n && b < m->n, "latency positions %u, %u of %u", a, b, m->n);
    if (m->kind != LATENCY_COORDS) return m->matrix[(size_t)a * m->n + b];
    const double *ca = &m->coords[3 * (size_t)a], *cb = &m->coords[3 * (size_t)b];
    double dx = ca[0] - cb[0], dy = ca[1] - cb[1];
    double ms = sqrt(dx * dx + dy * dy) + fabs(ca[2]) + fabs(cb[2]);
    return (TimeNs)llround(ms * 1e6);
}

void latency_access_draw(const Latency *m, uint32_t pos, Rng *r, TimeNs *delay, TimeNs *jitter)
{
    (void)pos;
    if (m->kind != LATENCY_REGION) {
        *delay = 0;
        *jitter = 0;
        return;
    }
    *delay = 2 * TIMENS_MS + (TimeNs)rng_below(r, 18 * TIMENS_MS + 1);
    *jitter = (TimeNs)rng_below(r, 2 * TIMENS_MS + 1);
}

/* ---- file parsing ------------------------------------------------------- */

/* Parses a whole token as a finite double; false otherwise. */
static bool parse_num(const char *tok, double *out)
{
    if (!*tok) return false;
    char *end;
    errno = 0;
    double v = g_ascii_strtod(tok, &end);
    if (*end || errno || !isfinite(v)) return false;
    *out = v;
    return true;
}

#define LATENCY_FILE_MAX ((gsize)256 << 20) /* bytes: a 4,000-node matrix is about 100 MB */

/* Reads path into lines (owned strv); CR at line ends removed. Files over
 * LATENCY_FILE_MAX and files holding a NUL byte are refused. */
static char **read_lines(const char *path, GError **err)
{
    char *text;
    gsize len;
    GError *e = NULL;
    if (!g_file_get_contents(path, &text, &len, &e)) {
        g_set_error(err, LATENCY_ERROR, LATENCY_ERROR_IO, "%s: %s", path, e->message);
        g_error_free(e);
        return NULL;
    }
    if (len > LATENCY_FILE_MAX || memchr(text, 0, len)) {
        g_set_error(err, LATENCY_ERROR, LATENCY_ERROR_IO,
                    len > LATENCY_FILE_MAX ? "%s: %zu bytes; the limit is %zu"
                                           : "%s: expected text; found a NUL byte (%zu bytes, limit %zu)",
                    path, (size_t)len, (size_t)LATENCY_FILE_MAX);
        g_free(text);
        return NULL;
    }
    char **lines = g_strsplit(text, "\n", -1);
    g_free(text);
    for (char **l = lines; *l; l++) {
        size_t n = strlen(*l);
        if (n && (*l)[n - 1] == '\r') (*l)[n - 1] = 0;
    }
    return lines;
}

static bool is_blank_or_comment(const char *line)
{
    while (*line == ' ' || *line == '\t') line++;
    return *line == 0 || *line == '#';
}

typedef struct CoordRow {
    long id;         /* node id */
    double x, y, h;  /* coordinates and height, ms */
    int line;        /* line number, for messages */
} CoordRow;

/* Parses one coordinate line "id x y h height" into r; false on bad syntax. */
static bool coord_line(const char *line, CoordRow *r)
{
    char **tok = g_strsplit_set(line, " \t", -1);
    const char *t[5];
    int n = 0;
    for (char **p = tok; *p; p++) {
        if (**p == 0) continue;
        if (n == 5) {
            n++;
            break;
        }
        t[n++] = *p;
    }
    double id;
    bool ok = n == 5 && strcmp(t[3], "h") == 0 && parse_num(t[0], &id) && id >= 0 &&
              id == floor(id) && id < 1e9 && parse_num(t[1], &r->x) && parse_num(t[2], &r->y) &&
              parse_num(t[4], &r->h) && fabs(r->x) <= LATENCY_MS_MAX &&
              fabs(r->y) <= LATENCY_MS_MAX && fabs(r->h) <= LATENCY_MS_MAX;
    if (ok) r->id = (long)id;
    g_strfreev(tok);
    return ok;
}

Latency *latency_coords_load(const char *path, GError **err)
{
    char **lines = read_lines(path, err);
    if (!lines) return NULL;
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(CoordRow));
    Latency *m = NULL;
    for (int i = 0; lines[i]; i++) {
        if (is_blank_or_comment(lines[i])) continue;
        CoordRow r = {.line = i + 1};
        if (!coord_line(lines[i], &r)) {
            g_set_error(err, LATENCY_ERROR, LATENCY_ERROR_PARSE,
                        "%s:%d: expected \"id x y h height\" (numbers in ms, each within "
                        "+-%.0f), found \"%.60s\"",
                        path, i + 1, LATENCY_MS_MAX, lines[i]);
            goto out;
        }
        g_array_append_val(rows, r);
    }
    uint32_t n = rows->len;
    if (n == 0) {
        g_set_error(err, LATENCY_ERROR, LATENCY_ERROR_PARSE,
                    "%s: expected at least one coordinate line, found none", path);
        goto out;
    }
    m = g_new0(Latency, 1);
    m->kind = LATENCY_COORDS;
    m->n = n;
    m->coords = g_new(double, 3 * (size_t)n);
    bool *seen = g_new0(bool, n);
    for (uint32_t k = 0; k < n; k++) {
        CoordRow *r = &g_array_index(rows, CoordRow, k);
        if (r->id >= (long)n || seen[r->id]) {
            g_set_error(err, LATENCY_ERROR, LATENCY_ERROR_PARSE,
                        "%s:%d: expected a new id in 0..%u, found %ld (%s)", path, r->line, n - 1,
                        r->id, r->id >= (long)n ? "out of range" : "duplicate");
            latency_free(m);
            m = NULL;
            break;
        }
        seen[r->id] = true;
        m->coords[3 * r->id] = r->x;
        m->coords[3 * r->id + 1] = r->y;
        m->coords[3 * r->id + 2] = r->h;
    }
    g_free(seen);
out:
    g_array_free(rows, TRUE);
    g_strfreev(lines);
    return m;
}

/* Splits a matrix line into cells: tabs if it has any, else commas if it
 * has any, else runs of blanks. Surrounding quotes and blanks are removed. */
static char **matrix_cells(const char *line)
{
    char **cells;
    if (strchr(line, '\t')) {
        cells = g_strsplit(line, "\t", -1);
    } else if (strchr(line, ',')) {
        cells = g_strsplit(line, ",", -1);
    } else {
        char **raw = g_strsplit_set(line, " ", -1);
        GPtrArray *a = g_ptr_array_new();
        for (char **p = raw; *p; p++) {
            if (**p) g_ptr_array_add(a, g_strdup(*p));
        }
        g_ptr_array_add(a, NULL);
        g_strfreev(raw);
        cells = (char **)g_ptr_array_free(a, FALSE);
    }
    for (char **p = cells; *p; p++) {
        g_strstrip(*p);
        size_t n = strlen(*p);
        if (n >= 2 && (*p)[0] == '"' && (*p)[n - 1] == '"') {
            memmove(*p, *p + 1, n - 2);
            (*p)[n - 2] = 0;
        }
    }
    return cells;
}

/* A matrix being read. */
typedef struct MatrixRead {
    const char *path;  /* for messages */
    GArray *values;    /* one-way delays, ns, row by row */
    GPtrArray *labels; /* row labels (owned strings) or empty */
    char **header;     /* header cells or NULL (owned) */
    int width;         /* values per row; -1 until known */
    int rows;          /* rows read */
} MatrixRead;

/* Reads one data row; false with err set on a bad row. */
static bool matrix_row(MatrixRead *mr, char **cells, int lineno, GError **err)
{
    int ncells = (int)g_strv_length(cells);
    double v;
    int first = 0;
    if (ncells > 0 && !parse_num(cells[0], &v)) { /* a row label */
        g_ptr_array_add(mr->labels, g_strdup(cells[0]));
        first = 1;
    }
    while (ncells > first && cells[ncells - 1][0] == 0) ncells--; /* trailing separator */
    int nvals = ncells - first;
    if (mr->width < 0) mr->width = mr->header ? (int)g_strv_length(mr->header) - 1 : nvals;
    if (nvals != mr->width) {
        g_set_error(err, LATENCY_ERROR, LATENCY_ERROR_PARSE, "%s:%d: expected %d values, found %d",
                    mr->path, lineno, mr->width, nvals);
        return false;
    }
    for (int c = first; c < ncells; c++) {
        if (!parse_num(cells[c], &v) || v < 0 || v > LATENCY_MS_MAX) {
            g_set_error(err, LATENCY_ERROR, LATENCY_ERROR_PARSE,
                        "%s:%d: column %d: expected an RTT in ms (a number in [0, %.0f]), found "
                        "\"%.40s\"",
                        mr->path, lineno, c + 1, LATENCY_MS_MAX, cells[c]);
            return false;
        }
        TimeNs one_way = (TimeNs)llround(v * 1e6 / 2);
        g_array_append_val(mr->values, one_way);
    }
    mr->rows++;
    return true;
}

/* Is this first line a header (first cell empty, or a cell after the
 * first one not a number)? */
static bool matrix_is_header(char **cells)
{
    if (!cells[0] || cells[0][0] == 0) return true;
    double v;
    for (int c = 1; cells[c]; c++) {
        if (cells[c][0] && !parse_num(cells[c], &v)) return true;
    }
    return false;
}

static Latency *matrix_finish(MatrixRead *mr, GError **err)
{
    if (mr->rows == 0 || mr->rows != mr->width) {
        g_set_error(err, LATENCY_ERROR, LATENCY_ERROR_PARSE,
                    "%s: expected a square matrix, found %d rows of %d values", mr->path, mr->rows,
                    mr->width < 0 ? 0 : mr->width);
        return NULL;
    }
    Latency *m = g_new0(Latency, 1);
    m->kind = LATENCY_MATRIX;
    m->n = (uint32_t)mr->rows;
    m->matrix = (TimeNs *)g_array_free(mr->values, FALSE);
    mr->values = NULL;
    if (mr->header || mr->labels->len == m->n) {
        m->names = g_new0(char *, m->n);
        for (uint32_t i = 0; i < m->n; i++) {
            const char *name = mr->labels->len == m->n ? g_ptr_array_index(mr->labels, i)
                                                       : mr->header[i + 1];
            m->names[i] = g_strdup(name);
        }
    }
    return m;
}

Latency *latency_matrix_load(const char *path, GError **err)
{
    char **lines = read_lines(path, err);
    if (!lines) return NULL;
    MatrixRead mr = {.path = path,
                     .values = g_array_new(FALSE, FALSE, sizeof(TimeNs)),
                     .labels = g_ptr_array_new_with_free_func(g_free),
                     .width = -1};
    bool ok = true, first = true;
    for (int i = 0; ok && lines[i]; i++) {
        if (is_blank_or_comment(lines[i])) continue;
        char **cells = matrix_cells(lines[i]);
        if (first && matrix_is_header(cells)) {
            mr.header = cells;
            first = false;
            continue;
        }
        first = false;
        ok = matrix_row(&mr, cells, i + 1, err);
        g_strfreev(cells);
    }
    Latency *m = ok ? matrix_finish(&mr, err) : NULL;
    if (mr.values) g_array_free(mr.values, TRUE);
    g_ptr_array_free(mr.labels, TRUE);
    g_strfreev(mr.header);
    g_strfreev(lines);
    return m;
}
