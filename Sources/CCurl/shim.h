/*
 * CCurl: libcurl for Swift. curl_easy_setopt and curl_easy_getinfo are variadic
 * and cannot be called from Swift, so each argument type gets a typed static
 * inline helper here.
 */
#ifndef MERIDIAN_CCURL_SHIM_H
#define MERIDIAN_CCURL_SHIM_H

/* The GCC type-checking macros wrap curl_easy_setopt; the helpers are typed already. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

/* A data callback: CURLOPT_WRITEFUNCTION, CURLOPT_HEADERFUNCTION. */
typedef size_t (*meridian_curl_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode meridian_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode meridian_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode meridian_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode meridian_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode meridian_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode meridian_curl_setopt_data_callback(CURL *handle, CURLoption option,
                                                          meridian_curl_data_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

static inline CURLcode meridian_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode meridian_curl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

#endif
