// Placeholder: MeridianHTTP is being written.
