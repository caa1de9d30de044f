/* jsonin: shared pieces of the JSON input readers; see jsonin.h. */
#include "sim/world/jsonin.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t jsonin_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) return SIZE_MAX;
    size_t d[64][64];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = MIN(MIN(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                v = MIN(v, d[i - 2][j - 2] + 1);
            d[i][j] = v;
        }
    }
    return d[n][m];
}

const char *jsonin_suggest(const char *word, const char *const *choices)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; choices[i]; i++) {
        size_t d = jsonin_edit_distance(word, choices[i]);
        if (d <= 1 + strlen(choices[i]) / 4 && d < best_d) {
            best = choices[i];
            best_d = d;
        }
    }
    return best;
}

char *jsonin_choice_list(const char *const *choices)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; choices[i]; i++)
        g_string_append_printf(s, "%s\"%s\"", i ? ", " : "", choices[i]);
    return g_string_free(s, FALSE);
}

int jsonin_choice_find(const char *word, const char *const *choices)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(word, choices[i]) == 0) return i;
    return -1;
}

char *jsonin_found(const cJSON *v)
{
    if (!v) return g_strdup("nothing");
    if (cJSON_IsObject(v)) return g_strdup("an object");
    if (cJSON_IsArray(v)) return g_strdup_printf("an array of %d", cJSON_GetArraySize(v));
    if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) return g_strdup("a number out of range");
    char *text = cJSON_PrintUnformatted(v);
    char *r = g_strdup(text);
    cJSON_free(text);
    return r;
}

const cJSON *jsonin_item(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsNull(v) ? NULL : v;
}

bool jsonin_failv(GError **err, JsoninErr e, const char *origin, const char *path, const char *fmt,
                  va_list ap)
{
    char *msg = g_strdup_vprintf(fmt, ap);
    g_set_error(err, e.domain, e.code, "%s: %s: %s", origin, path, msg);
    g_free(msg);
    return false;
}

bool jsonin_fail(GError **err, JsoninErr e, const char *origin, const char *path, const char *fmt,
                 ...)
{
    va_list ap;
    va_start(ap, fmt);
    jsonin_failv(err, e, origin, path, fmt, ap);
    va_end(ap);
    return false;
}

bool jsonin_expect(GError **err, JsoninErr e, const char *origin, const char *path,
                   const char *what, const cJSON *v)
{
    char *found = jsonin_found(v);
    jsonin_fail(err, e, origin, path, "expected %s; found %s", what, found);
    g_free(found);
    return false;
}

char *jsonin_unknown_key(const char *key, const char *const *known, JsoninKeyWording w)
{
    char *list = jsonin_choice_list(known);
    const char *near = w == JSONIN_KEYS_SUGGEST ? jsonin_suggest(key, known) : NULL;
    char *msg = w == JSONIN_KEYS_AMONG
                    ? g_strdup_printf("expected keys among %s; found \"%s\"", list, key)
                : near ? g_strdup_printf("unknown key (did you mean \"%s\"?)", near)
                       : g_strdup_printf("unknown key; expected one of %s", list);
    g_free(list);
    return msg;
}

const cJSON *jsonin_first_unknown(const cJSON *obj, const char *const *known)
{
    for (const cJSON *it = cJSON_IsObject(obj) ? obj->child : NULL; it; it = it->next)
        if (jsonin_choice_find(it->string, known) < 0) return it;
    return NULL;
}

const cJSON *jsonin_bad_key(const cJSON *obj, const char *const *known, JsoninKeyWording w,
                            char **msg)
{
    for (const cJSON *it = cJSON_IsObject(obj) ? obj->child : NULL; it; it = it->next) {
        if (jsonin_choice_find(it->string, known) < 0) {
            *msg = jsonin_unknown_key(it->string, known, w);
            return it;
        }
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next) {
            if (strcmp(prev->string, it->string) == 0) {
                *msg = g_strdup("duplicate key; each key may appear once");
                return it;
            }
        }
    }
    return NULL;
}

size_t jsonin_path_key(GString *path, const char *key)
{
    size_t mark = path->len;
    g_string_append_printf(path, ".%s", key);
    return mark;
}

size_t jsonin_path_index(GString *path, size_t i)
{
    size_t mark = path->len;
    g_string_append_printf(path, "[%zu]", i);
    return mark;
}

void jsonin_line_col(const char *text, size_t pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

/* Where the JSON error really is. cJSON reports one byte past the culprit
 * when an object key does not start with a quote (it has already stepped
 * over it): detect that case, the byte before `at` following "{" or "," and
 * not being a quote, and step back. */
static const char *jsonin_error_at(const char *text, const char *at)
{
    if (at == text || at[-1] == '"' || g_ascii_isspace(at[-1])) return at;
    const char *p = at - 1;
    while (p > text && g_ascii_isspace(p[-1]))
        p--;
    return p > text && (p[-1] == '{' || p[-1] == ',') ? at - 1 : at;
}

/* The error for malformed JSON at `at` in text: "file:line:col: ...". */
static void jsonin_syntax_error(const char *origin, const char *text, const char *at, bool hints,
                                JsoninErr e, GError **err)
{
    int line, col;
    at = jsonin_error_at(text, at);
    jsonin_line_col(text, (size_t)(at - text), &line, &col);
    size_t n = strcspn(at, "\r\n");
    if (*at == '\0' || n == 0) {
        g_set_error(err, e.domain, e.code, "%s:%d:%d: malformed JSON; found the end of the %s",
                    origin, line, col, *at ? "line" : "file");
        return;
    }
    char *snippet = g_strndup(at, MIN(n, 20));
    cJSON *js = cJSON_CreateString(snippet);
    char *quoted = cJSON_PrintUnformatted(js);
    const char *before = at;
    while (before > text && g_ascii_isspace(before[-1]))
        before--;
    const char *hint = !hints ? ""
                       : g_str_has_prefix(at, "//") || g_str_has_prefix(at, "/*")
                           ? " (JSON has no comments)"
                       : (*at == '}' || *at == ']') && before > text && before[-1] == ','
                           ? " (JSON allows no comma before it)"
                           : "";
    g_set_error(err, e.domain, e.code, "%s:%d:%d: malformed JSON; found %s%s", origin, line, col,
                quoted, hint);
    cJSON_free(quoted);
    cJSON_Delete(js);
    g_free(snippet);
}

const char *jsonin_nul_escape(const char *text)
{
    bool in_string = false;
    for (const char *c = text; *c; c++) {
        if (!in_string) {
            in_string = *c == '"';
        } else if (*c == '"') {
            in_string = false;
        } else if (*c == '\\') {
            if (c[1] == 'u' && c[2] == '0' && c[3] == '0' && c[4] == '0' && c[5] == '0') return c;
            if (c[1]) c++; /* the escaped byte */
        }
    }
    return NULL;
}

cJSON *jsonin_parse(const char *text, const char *origin, bool hints, JsoninErr e, GError **err)
{
    const char *nul = jsonin_nul_escape(text);
    if (nul) {
        int line, col;
        jsonin_line_col(text, (size_t)(nul - text), &line, &col);
        g_set_error(err, e.domain, e.code,
                    "%s:%d:%d: expected a string without NUL characters; found \"\\u0000\"",
                    origin, line, col);
        return NULL;
    }
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithOpts(text, &end, true);
    if (!doc) jsonin_syntax_error(origin, text, end ? end : text, hints, e, err);
    return doc;
}

char *jsonin_read_file(const char *path, size_t max, const char *what, JsoninErr e, size_t *len,
                       GError **err)
{
    char *text = NULL;
    gsize n = 0;
    GError *ferr = NULL;
    if (!g_file_get_contents(path, &text, &n, &ferr)) {
        g_set_error(err, e.domain, e.code, "%s: cannot read%s: %s", path, what,
                    g_strerror(ferr->code == G_FILE_ERROR_NOENT   ? ENOENT
                               : ferr->code == G_FILE_ERROR_ACCES ? EACCES
                               : ferr->code == G_FILE_ERROR_ISDIR ? EISDIR
                                                                  : EIO));
        g_error_free(ferr);
        return NULL;
    }
    size_t cap = max ? max : JSONIN_MAX_DEFAULT;
    if (n > cap) {
        g_set_error(err, e.domain, e.code, "%s: cannot read%s: %zu bytes; the limit is %zu", path,
                    what, (size_t)n, cap);
        g_free(text);
        return NULL;
    }
    const char *nul = memchr(text, 0, n);
    if (nul) {
        int line, col;
        jsonin_line_col(text, (size_t)(nul - text), &line, &col);
        g_set_error(err, e.domain, e.code, "%s:%d:%d: expected text; found a NUL byte", path, line,
                    col);
        g_free(text);
        return NULL;
    }
    if (len) *len = n;
    return text;
}

void jsonin_eprint(const char *prefix, const char *msg, const char *suffix)
{
    GString *out = g_string_new(prefix);
    for (const char *c = msg ? msg : ""; *c; c++) {
        unsigned char b = (unsigned char)*c;
        if (b < 0x20 || b == 0x7f)
            g_string_append_printf(out, "\\x%02x", b);
        else
            g_string_append_c(out, *c);
    }
    g_string_append(out, suffix);
    g_string_append_c(out, '\n');
    fputs(out->str, stderr);
    g_string_free(out, TRUE);
}
