// Placeholder: MeridianCorosync is being written.
