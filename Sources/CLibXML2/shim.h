/*
 * CLibXML2: the libxml2 headers Meridian uses, plus a few static inline helpers
 * for what Swift cannot import directly (macros that expand to thread-local
 * globals). The include path comes from pkg-config "libxml-2.0"
 * (-I/usr/include/libxml2).
 */
#ifndef MERIDIAN_CLIBXML2_SHIM_H
#define MERIDIAN_CLIBXML2_SHIM_H

/*
 * Debian builds libxml2 with ICU, so <libxml/encoding.h> includes the system's
 * <unicode/ucnv.h>. Swift's Foundation carries its own ICU module, and a Swift
 * file that sees both fails with "'UErrorCode' has different definitions in
 * different modules". Meridian never uses libxml2's ICU converters, so the ICU
 * parts of the headers are left out. Their only effect on declarations is two
 * trailing pointer fields of xmlCharEncodingHandler, a struct Meridian handles
 * only by pointer and never allocates or copies.
 */
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <libxml/relaxng.h>
#include <libxml/xmlsave.h>
#include <libxml/globals.h>

/* xmlFree is a thread-local function pointer macro; call it through a function. */
static inline void meridian_xml_free(void *pointer) {
    xmlFree(pointer);
}

/* The calling thread's structured error handler and its context (both macros). */
static inline xmlStructuredErrorFunc meridian_xml_structured_error_handler(void) {
    return xmlStructuredError;
}

static inline void *meridian_xml_structured_error_context(void) {
    return xmlStructuredErrorContext;
}

/* The calling thread's generic error handler and its context (both macros). */
static inline xmlGenericErrorFunc meridian_xml_generic_error_handler(void) {
    return xmlGenericError;
}

static inline void *meridian_xml_generic_error_context(void) {
    return xmlGenericErrorContext;
}

/* A generic (printf-style) error handler that drops the message: installed while
 * Meridian calls libxml2 so that nothing is ever printed on stderr. */
static void meridian_xml_silent_generic_error(void *context, const char *message, ...) {
    (void)context;
    (void)message;
}

static inline xmlGenericErrorFunc meridian_xml_silent_generic_error_handler(void) {
    return meridian_xml_silent_generic_error;
}

#endif
