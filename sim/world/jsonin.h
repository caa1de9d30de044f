/* jsonin: the shared pieces of every reader of user JSON files (scenarios,
 * sweep files, golden files, calibration files): parsing with line:column on
 * malformed input, "FILE: PATH: expected X; found Y" messages with one way
 * of describing the value found, unknown-key checks with "did you mean",
 * and reading a file with a size cap.
 *
 * Layer: sim/world (glib and cJSON only). The readers differ where their
 * users see different words (whether a syntax error carries a hint, how an
 * unknown key is worded): those are parameters here, not copies.
 */
#ifndef SKYSIM_JSONIN_H
#define SKYSIM_JSONIN_H

#include <cjson/cJSON.h>
#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

/* Files larger than this are refused by jsonin_read_file() when the caller
 * passes 0 as the cap (bytes). */
#define JSONIN_MAX_DEFAULT ((size_t)64 << 20)

/* Where and how errors are reported: the GError domain and code to use. */
typedef struct JsoninErr {
    GQuark domain; /* GError domain of the caller's module */
    int code;      /* GError code for input errors */
} JsoninErr;

/* Optimal-string-alignment edit distance (insertions, deletions,
 * substitutions, adjacent transpositions); SIZE_MAX for strings longer than
 * 63 characters. O(n*m). */
size_t jsonin_edit_distance(const char *a, const char *b);
/* The closest of choices (NULL-terminated) to word within a small edit
 * distance (at most 1 + length/4), or NULL. Borrowed from choices. */
const char *jsonin_suggest(const char *word, const char *const *choices);
/* "\"a\", \"b\", \"c\""; owned by the caller. */
char *jsonin_choice_list(const char *const *choices);
/* Index of word in choices, or -1. */
int jsonin_choice_find(const char *word, const char *const *choices);

/* What a value is, for "found ...": strings, numbers and literals as JSON
 * text, containers by kind ("an object", "an array of 3"), a non-finite
 * number as "a number out of range", NULL as "nothing". Owned. */
char *jsonin_found(const cJSON *v);

/* obj[key] (case-sensitive); NULL when obj is not an object, the key is
 * absent or its value is null (null means "the default"). Borrowed. */
const cJSON *jsonin_item(const cJSON *obj, const char *key);

/* Sets *err to "origin: path: <fmt...>". Returns false. */
G_GNUC_PRINTF(5, 6)
bool jsonin_fail(GError **err, JsoninErr e, const char *origin, const char *path, const char *fmt,
                 ...);
/* jsonin_fail() with a va_list. */
G_GNUC_PRINTF(5, 0)
bool jsonin_failv(GError **err, JsoninErr e, const char *origin, const char *path, const char *fmt,
                  va_list ap);
/* Sets *err to "origin: path: expected <what>; found <jsonin_found(v)>".
 * Returns false. */
bool jsonin_expect(GError **err, JsoninErr e, const char *origin, const char *path,
                   const char *what, const cJSON *v);

/* How an unknown key is worded. */
typedef enum JsoninKeyWording {
    /* "unknown key (did you mean \"k\"?)" when one is close, else
     * "unknown key; expected one of \"a\", \"b\"" (scenario, sweep) */
    JSONIN_KEYS_SUGGEST,
    /* "expected keys among \"a\", \"b\"; found \"key\"" (golden files) */
    JSONIN_KEYS_AMONG,
} JsoninKeyWording;

/* The message (without origin and path) for key not in known. Owned. */
char *jsonin_unknown_key(const char *key, const char *const *known, JsoninKeyWording w);
/* The first key of obj (an object) not in known, or NULL. Borrowed. */
const cJSON *jsonin_first_unknown(const cJSON *obj, const char *const *known);

/* The first key of obj (an object) that is not in known or repeats an
 * earlier key, or NULL when all are fine; *msg receives the message
 * (jsonin_unknown_key(), or "duplicate key; each key may appear once"),
 * owned by the caller. Borrowed. */
const cJSON *jsonin_bad_key(const cJSON *obj, const char *const *known, JsoninKeyWording w,
                            char **msg);

/* JSON paths as readers build them: appends ".key" or "[i]" to path and
 * returns the length to truncate back to (g_string_truncate). */
size_t jsonin_path_key(GString *path, const char *key);
size_t jsonin_path_index(GString *path, size_t i);

/* Line and column (1-based, columns in characters) of byte offset pos. */
void jsonin_line_col(const char *text, size_t pos, int *line, int *col);

/* Parses text (the whole of it) into a tree. On malformed JSON sets *err to
 * "origin:line:col: malformed JSON; found \"<up to 20 bytes>\"" (or "the
 * end of the file", "the end of the line"), followed when hints is true by
 * a hint for comments and trailing commas. NULL on error. */
cJSON *jsonin_parse(const char *text, const char *origin, bool hints, JsoninErr e, GError **err);

/* The first "\u0000" escape inside a JSON string of text (cJSON would cut
 * the string there, silently), or NULL when there is none. Borrowed. */
const char *jsonin_nul_escape(const char *text);

/* Reads the file at path (at most max bytes; 0: JSONIN_MAX_DEFAULT) into a
 * NUL-terminated buffer; *len receives its length when not NULL. On error
 * sets *err to "path: cannot read<what>: <strerror>" (what: "" or, say,
 * " the scenario"), "path: N bytes; the limit is M" for a file over the cap,
 * or "path:line:col: a NUL byte; ..." for a file holding one (nothing after
 * it would be read), with code e.code, and returns NULL. Owned (g_free). */
char *jsonin_read_file(const char *path, size_t max, const char *what, JsoninErr e, size_t *len,
                       GError **err);

/* Writes "<prefix><msg><suffix>\n" to standard error with every control
 * byte of msg (below 0x20, and 0x7f) shown as \xHH, so that a message
 * quoting user input (file names, keys, values) is one printable line.
 * msg may be NULL (printed as nothing). */
void jsonin_eprint(const char *prefix, const char *msg, const char *suffix);

#endif
