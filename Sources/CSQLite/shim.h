#include <sqlite3.h>

// sqlite3_config is variadic, which Swift cannot call: these wrappers can be.

/// Turns off SQLite's memory statistics, whose global mutex costs a lock per allocation.
/// Must run before the first connection is opened.
static inline int tracelens_sqlite_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

// The `records` virtual table (TraceLensStore/RecordsTable.swift): SQLite's table and cursor
// structs with one pointer each for the Swift side, as SQLite's extension pattern has it.
typedef struct tracelens_vtab {
    sqlite3_vtab base;
    sqlite3 *db;
} tracelens_vtab;

/// The module, and whether it is declaring a table's columns right now: the read-only guard of
/// `sql` lets that one CREATE TABLE through (TraceLensStore/SQLite.swift, allowReadsOnly).
typedef struct tracelens_records_module {
    sqlite3_module module;
    int declaring;
} tracelens_records_module;

typedef struct tracelens_cursor {
    sqlite3_vtab_cursor base;
    void *state;
} tracelens_cursor;

/// Sets a virtual table's error message (sqlite3_mprintf is variadic, which Swift cannot call).
static inline void tracelens_vtab_set_error(sqlite3_vtab *table, const char *message) {
    sqlite3_free(table->zErrMsg);
    table->zErrMsg = sqlite3_mprintf("%s", message);
}

/// Sets an error message out-parameter as SQLite's constructors expect it.
static inline void tracelens_set_message(char **out, const char *message) {
    if (out) *out = sqlite3_mprintf("%s", message);
}
