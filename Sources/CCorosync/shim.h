/*
 * CCorosync: the Corosync client libraries (libcpg, libquorum, libcmap) and their
 * common types (libcorosync_common). Corosync ships no pkg-config file for these;
 * the headers are in /usr/include/corosync (packages libcpg-dev, libquorum-dev,
 * libcmap-dev, libcorosync-common-dev).
 */
#ifndef MERIDIAN_CCOROSYNC_SHIM_H
#define MERIDIAN_CCOROSYNC_SHIM_H

#include <stdint.h>
#include <sys/types.h>
#include <corosync/corotypes.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>
#include <corosync/cmap.h>

#endif
