// CIB: being written.
