#include <qb/qblog.h>
#include <qb/qbutil.h>
