/*
 * CQB: libqb logging for Swift.
 *
 * qb_log() is a macro with variadic arguments that registers a static callsite,
 * so Swift logs through meridian_qb_log() with a message it formatted itself.
 *
 * Why not qb_log_from_external_source(): libqb keys its dynamic callsites by
 * (file, line) only and keeps the *pointers* to the function and file names it
 * was given. A second message from the same file and line at another priority
 * would be written with the first one's priority, and Swift's temporary C
 * strings would dangle. Instead there is one registered callsite per priority
 * (so target filters keep working); each message is written through a stack
 * copy of it that carries the real function, file and line for this call only.
 * That is safe because libqb uses the callsite only during qb_log_real_()
 * unless a target is threaded (QB_LOG_CONF_THREADED), which Meridian never
 * enables.
 *
 * libqb's logger is not reentrant across threads (a global "in_logger" flag
 * drops concurrent messages), so callers must serialise calls; MeridianLogging
 * holds one lock around every libqb logging call.
 */
#ifndef MERIDIAN_CQB_SHIM_H
#define MERIDIAN_CQB_SHIM_H

#include <stdint.h>
#include <syslog.h>
#include <qb/qbdefs.h>
#include <qb/qblog.h>
#include <qb/qbutil.h>

/* LOG_TRACE is (LOG_DEBUG + 1), a macro Swift does not import. */
static const uint8_t MERIDIAN_QB_LOG_TRACE = LOG_TRACE;

/* The file name every Meridian callsite is registered under (target filters match it). */
static const char *const MERIDIAN_QB_CALLSITE_FILE = "meridian";

/*
 * Writes one preformatted message (never used as a format) at `priority`,
 * reporting `function`, `filename` and `line` to the %n, %f and %l format
 * specifiers. Returns -1 when libqb logging is not initialised.
 */
static inline int32_t meridian_qb_log(const char *function, const char *filename, uint32_t line,
                                      uint8_t priority, const char *message) {
    struct qb_log_callsite *registered = qb_log_callsite_get(
        "meridian", MERIDIAN_QB_CALLSITE_FILE, "%s", priority, 1u + (uint32_t)priority, 0);
    if (registered == NULL) {
        return -1;
    }
    struct qb_log_callsite callsite = *registered;
    callsite.function = function;
    callsite.filename = filename;
    callsite.lineno = line;
    qb_log_real_(&callsite, message);
    return 0;
}

#endif
