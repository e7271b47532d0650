#include <sqlite3.h>

// sqlite3_config is variadic, which Swift cannot call: these wrappers can be.

/// Turns off SQLite's memory statistics, whose global mutex costs a lock per allocation.
/// Must run before the first connection is opened.
static inline int tracelens_sqlite_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
